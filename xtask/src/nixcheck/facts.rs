//! What each image path really produces, in one shape for the drift check: the image config an
//! engine would load (Cmd, Entrypoint, Env, ExposedPorts, …) and the programs and libraries on it.
//! Debian: the config the docker-archive writer emits and the files in the cached layer tars.
//! Nix: the flake's outputs evaluated by a current Nix against the stand-in nixpkgs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::images::{self, debian, layer};
use crate::table::Spec;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// The image config's `config` object, as the engine would read it.
    pub config: Map<String, Value>,
    /// Program names in the image's PATH directories.
    pub programs: BTreeSet<String>,
    /// The shared libraries of interest (super::expected) found in the image.
    pub libraries: BTreeSet<String>,
    /// Where the runtime-state paths the xtask cares about (super::expected::RUNTIME_PATHS)
    /// really lead, symlinks followed: `var/run` -> `run`.
    #[serde(default)]
    pub resolved: BTreeMap<String, String>,
}

/// One path's images, by image name.
pub type Images = BTreeMap<String, ImageFacts>;

/// The Nix side for one system, as nix/offline/facts.nix reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NixSystem {
    pub packages: BTreeMap<String, String>,
    pub apps: BTreeMap<String, String>,
    #[serde(rename = "devShells")]
    pub dev_shells: BTreeMap<String, String>,
    pub checks: BTreeMap<String, String>,
    pub images: BTreeMap<String, NixImage>,
    pub docker: String,
    /// checks.<system>.e2e's Python driver script, as the stand-in keeps it.
    #[serde(rename = "e2eTestScript", default)]
    pub e2e_test_script: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NixImage {
    #[serde(rename = "imageName")]
    pub image_name: String,
    #[serde(rename = "imageTag")]
    pub image_tag: String,
    /// `null` for an image that is no sandbox service (the test image).
    pub config: Option<Map<String, Value>>,
    pub programs: Vec<String>,
    pub libraries: Vec<String>,
    /// What the flake's image-<name>-commands check verifies at build time.
    #[serde(rename = "requiredCommands")]
    pub required_commands: Vec<String>,
    /// The symlinks mkSandboxImage makes (path -> target, relative to /), e.g. var/run -> ../run.
    #[serde(default)]
    pub symlinks: BTreeMap<String, String>,
}

pub type NixFacts = BTreeMap<String, NixSystem>;

impl NixImage {
    /// The same shape as a Debian image: buildLayeredImage links every package's bin/ into /bin,
    /// so a program counts when /bin is on the config's PATH.
    pub fn facts(&self) -> Option<ImageFacts> {
        let config = self.config.clone()?;
        let on_path = path_dirs(&config).iter().any(|d| d == "/bin");
        let files = Files {
            executables: self.symlinks.iter().map(|(p, t)| (normalise(p), Some(t.clone()))).collect(),
            all: BTreeSet::new(),
        };
        Some(ImageFacts {
            config,
            programs: if on_path { self.programs.iter().cloned().collect() } else { BTreeSet::new() },
            libraries: self.libraries.iter().cloned().collect(),
            resolved: resolved_runtime_paths(&files),
        })
    }
}

/// The config's `Env` entries as (name, value), in order.
pub fn env_entries(config: &Map<String, Value>) -> impl Iterator<Item = (&str, &str)> {
    config
        .get("Env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|e| e.split_once('='))
}

/// The directories of the config's (first) `PATH=` entry.
pub fn path_dirs(config: &Map<String, Value>) -> Vec<String> {
    env_entries(config)
        .find(|(k, _)| *k == "PATH")
        .map(|(_, p)| p.split(':').filter(|d| !d.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// The Debian images as `cargo xtask sandbox up` loads them: layers from the cache (built first
/// if missing, as `up` would), config from the same archive writer.
pub fn debian(spec: &Spec, libraries: &BTreeSet<String>) -> Result<Images> {
    let lock = crate::images::lock::load()?;
    let builder =
        debian::Builder { lock: &lock, cache_dir: crate::util::cache_dir().join("debian"), mirrors: Vec::new() };
    let _guard = builder.lock_cache()?;
    // Every image sandbox.json declares, services' or not (issue 11's signers is started on demand).
    let names: Vec<&str> = spec.images.keys().map(String::as_str).collect();
    let tags: Vec<(&str, String)> =
        names.iter().map(|i| Ok((*i, lock.tag(i)?))).collect::<Result<_>>().context("tagging the Debian images")?;
    let wanted: Vec<(&str, &str)> = tags.iter().map(|(i, t)| (*i, t.as_str())).collect();
    let records = builder.prepare(&wanted, false).context("preparing the Debian images' layers")?;
    let created = debian::created();
    let mut out = Images::new();
    for (image, tag) in &tags {
        let record = records.get(*image).with_context(|| format!("no layers for Debian image {image}"))?;
        let archived = images::debian_image(spec, &builder, image, &images::reference(image, tag), record)?;
        let config = match crate::images::archive::config(&archived, &created).get("config") {
            Some(Value::Object(c)) => c.clone(),
            _ => anyhow::bail!("the archive writer gave image {image} no config object"),
        };
        let layers: Vec<&Path> = archived.layers.iter().map(|l| l.path.as_path()).collect();
        let files = files_of(&layers)?;
        out.insert(
            image.to_string(),
            ImageFacts {
                programs: programs_on_path(&files, &path_dirs(&config)),
                libraries: libraries_in(&files, libraries),
                resolved: resolved_runtime_paths(&files),
                config,
            },
        );
    }
    Ok(out)
}

/// A file system built from layer tars, lowest first: path (no leading `./` or `/`) → symlink
/// target, or `None` for anything else that is executable. Whiteouts remove what is below.
#[derive(Debug, Default)]
pub struct Files {
    pub executables: BTreeMap<String, Option<String>>,
    pub all: BTreeSet<String>,
}

pub fn files_of(layers: &[&Path]) -> Result<Files> {
    let mut files = Files::default();
    for path in layers {
        let file = File::open(path).with_context(|| format!("opening layer {}", path.display()))?;
        let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
        for entry in archive.entries().with_context(|| format!("reading layer {}", path.display()))? {
            let entry = entry.with_context(|| format!("reading layer {}", path.display()))?;
            let name = normalise(&entry.path()?.to_string_lossy());
            let (dir, base) = name.rsplit_once('/').unwrap_or(("", &name));
            if base == layer::OPAQUE_MARKER {
                let prefix = format!("{dir}/");
                files.all.retain(|p| !p.starts_with(&prefix));
                files.executables.retain(|p, _| !p.starts_with(&prefix));
                continue;
            }
            if let Some(hidden) = base.strip_prefix(layer::WHITEOUT_PREFIX) {
                let gone = if dir.is_empty() { hidden.to_string() } else { format!("{dir}/{hidden}") };
                let below = format!("{gone}/");
                files.all.retain(|p| *p != gone && !p.starts_with(&below));
                files.executables.retain(|p, _| *p != gone && !p.starts_with(&below));
                continue;
            }
            let header = entry.header();
            let kind = header.entry_type();
            if kind.is_symlink() {
                let target = entry.link_name()?.map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                files.executables.insert(name.clone(), Some(target));
            } else if kind.is_file() || kind.is_hard_link() {
                if header.mode().unwrap_or(0) & 0o111 != 0 {
                    files.executables.insert(name.clone(), None);
                } else {
                    files.executables.remove(&name);
                }
            }
            files.all.insert(name);
        }
    }
    Ok(files)
}

fn normalise(path: &str) -> String {
    path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string()
}

/// A directory path with its symlinked components followed (merged /usr: bin → usr/bin).
fn resolve_dir(files: &Files, dir: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for part in normalise(dir).split('/').filter(|p| !p.is_empty()) {
        out.push(part.to_string());
        for _ in 0..8 {
            let here = out.join("/");
            match files.executables.get(&here) {
                Some(Some(target)) if target.starts_with('/') => {
                    out = normalise(target).split('/').map(String::from).collect();
                }
                Some(Some(target)) => {
                    out.pop();
                    for part in target.split('/').filter(|p| !p.is_empty() && *p != ".") {
                        if part == ".." {
                            out.pop();
                        } else {
                            out.push(part.to_string());
                        }
                    }
                }
                _ => break,
            }
        }
    }
    out.join("/")
}

/// Each of expected::RUNTIME_PATHS as the image resolves it (no leading `/`).
pub fn resolved_runtime_paths(files: &Files) -> BTreeMap<String, String> {
    super::expected::RUNTIME_PATHS.iter().map(|p| (normalise(p), resolve_dir(files, p))).collect()
}

/// Names of the executables (or symlinks) directly in the PATH directories.
pub fn programs_on_path(files: &Files, path: &[String]) -> BTreeSet<String> {
    let dirs: BTreeSet<String> = path.iter().map(|d| resolve_dir(files, d)).collect();
    files
        .executables
        .keys()
        .filter_map(|p| p.rsplit_once('/'))
        .filter(|(dir, _)| dirs.contains(*dir))
        .map(|(_, base)| base.to_string())
        .collect()
}

/// Which of `wanted` exist as files anywhere under a lib directory.
pub fn libraries_in(files: &Files, wanted: &BTreeSet<String>) -> BTreeSet<String> {
    files
        .all
        .iter()
        .filter(|p| p.starts_with("usr/lib/") || p.starts_with("lib/"))
        .filter_map(|p| p.rsplit_once('/').map(|(_, b)| b))
        .filter(|b| wanted.contains(*b))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&str>, u32)], dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        for (p, link, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            match link {
                Some(t) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, p, t).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(0);
                    b.append_data(&mut h, p, std::io::empty()).unwrap();
                }
            }
        }
        b.finish().unwrap();
        path
    }

    #[test]
    fn programs_follow_merged_usr_whiteouts_and_exec_bits() {
        let dir = tempfile::tempdir().unwrap();
        let base = tar_of(
            &[
                ("./bin", Some("usr/bin"), 0o777),
                ("./usr/bin/sh", Some("dash"), 0o777),
                ("./usr/bin/dash", None, 0o755),
                ("./usr/bin/grep", None, 0o755),
                ("./usr/bin/README", None, 0o644),
                ("./usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", None, 0o644),
                ("./opt/tool/bin/hidden", None, 0o755),
            ],
            dir.path(),
            "base.tar",
        );
        let top =
            tar_of(&[("./usr/bin/.wh.grep", None, 0o644), ("./usr/sbin/dockerd", None, 0o755)], dir.path(), "top.tar");
        let files = files_of(&[&base, &top]).unwrap();
        let path = ["/usr/sbin".to_string(), "/bin".to_string()];
        let programs = programs_on_path(&files, &path);
        assert_eq!(programs, ["dash", "dockerd", "sh"].iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
        let wanted: BTreeSet<String> = ["libfaketime.so.1".to_string(), "libnope.so".to_string()].into();
        assert_eq!(libraries_in(&files, &wanted), ["libfaketime.so.1".to_string()].into());
    }

    #[test]
    fn var_run_resolves_through_its_symlink_on_both_paths() {
        let dir = tempfile::tempdir().unwrap();
        let debian = tar_of(&[("./var/run", Some("/run"), 0o777)], dir.path(), "d.tar");
        assert_eq!(resolved_runtime_paths(&files_of(&[&debian]).unwrap())["var/run"], "run");
        let nix =
            Files { executables: [("var/run".to_string(), Some("../run".to_string()))].into(), all: BTreeSet::new() };
        assert_eq!(resolved_runtime_paths(&nix)["var/run"], "run");
        assert_eq!(resolved_runtime_paths(&Files::default())["var/run"], "var/run", "a plain directory");
    }

    #[test]
    fn path_dirs_come_from_the_env_entry() {
        let config: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"Env": ["HOME=/root", "PATH=/bin:/usr/bin"]})).unwrap();
        assert_eq!(path_dirs(&config), ["/bin", "/usr/bin"]);
        assert!(path_dirs(&Map::new()).is_empty());
    }
}
