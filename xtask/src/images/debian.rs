//! Debian image source: one mmdebstrap rootfs per image from the exact pins in images.lock, cached
//! as a tarball (so a second engine imports without rebuilding) and imported with its command.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::sources::{self, Source};
use crate::lock::Lock;
use crate::ui;

pub struct Builder<'a> {
    pub lock: &'a Lock,
    pub cache_dir: PathBuf,
    pub mirrors: Vec<String>,
}

/// What each image needs beyond its packages, as mmdebstrap customize hooks (run on the host with
/// the rootfs at "$1"), so that commands match the names in sandbox.json on both image paths.
pub fn customize_hooks(image: &str) -> Vec<String> {
    let mut hooks = Vec::new();
    match image {
        // Debian names the binary docker-registry; nixpkgs' distribution and sandbox.json say registry.
        "registry" => hooks.push(r#"ln -sf /usr/bin/docker-registry "$1"/usr/local/bin/registry"#.to_string()),
        // The datadir lives on a volume and is initialised by db-start.sh on first start; an
        // initialised copy in the image would only be copied up and then ignored.
        "db" => hooks.push(
            r#"rm -rf "$1"/var/lib/mysql/* && mkdir -p "$1"/run/mysqld && chroot "$1" chown mysql:mysql /run/mysqld"#
                .to_string(),
        ),
        _ => {}
    }
    hooks
}

impl Builder<'_> {
    /// Holds an exclusive lock on the cache until dropped.
    pub fn lock_cache(&self) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.cache_dir).with_context(|| format!("creating {}", self.cache_dir.display()))?;
        let f = std::fs::File::create(self.cache_dir.join(".lock")).context("opening the image cache lock")?;
        if f.try_lock().is_err() {
            ui::info("Waiting", format!("for another build using {}", self.cache_dir.display()));
            f.lock().context("locking the image cache")?;
        }
        Ok(f)
    }

    pub fn tarball(&self, image: &str, tag: &str) -> PathBuf {
        self.cache_dir.join(format!("{image}-{tag}.tar"))
    }

    fn sources(&self) -> Result<Vec<Source>> {
        let suite = &self.lock.debian.suite;
        if self.mirrors.is_empty() {
            sources::from_host(Path::new("/etc/apt"), suite)
        } else {
            Ok(self.mirrors.iter().map(|m| sources::from_mirror(m, suite)).collect())
        }
    }

    pub fn argv(&self, image: &str, out: &Path, sources_file: &Path, deb_cache: &Path) -> Result<Vec<String>> {
        let pins = self.lock.apt_pins(image)?;
        let cache = deb_cache.display();
        let mut a: Vec<String> = vec![
            format!("--variant={}", self.lock.debian.variant),
            "--format=tar".into(),
            format!("--include={}", pins.join(",")),
            "--aptopt=Acquire::Languages \"none\"".into(),
            "--dpkgopt=path-exclude=/usr/share/doc/*".into(),
            "--dpkgopt=path-include=/usr/share/doc/*/copyright".into(),
            "--dpkgopt=path-exclude=/usr/share/man/*".into(),
            "--dpkgopt=path-exclude=/usr/share/locale/*".into(),
            // Shared .deb cache: the four images have most of their closure in common.
            "--skip=essential/unlink".into(),
            format!("--setup-hook=mkdir -p '{cache}' \"$1\"/var/cache/apt/archives/"),
            format!("--setup-hook=sync-in '{cache}' /var/cache/apt/archives/"),
            format!("--customize-hook=sync-out /var/cache/apt/archives '{cache}'"),
        ];
        for hook in customize_hooks(image) {
            a.push(format!("--customize-hook={hook}"));
        }
        a.push(format!(
            "--customize-hook=rm -rf \"$1\"/var/cache/apt/archives/*.deb \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*.bin && echo '{}' > \"$1\"/etc/trust-sandbox-image",
            self.lock.canonical_entry(image)?.replace('\n', " ").trim()
        ));
        a.push(self.lock.debian.suite.clone());
        a.push(out.display().to_string());
        a.push(sources_file.display().to_string());
        Ok(a)
    }

    /// Builds the rootfs tarball for `image` unless the cache has it; returns its path.
    pub fn build(&self, image: &str, tag: &str) -> Result<PathBuf> {
        let target = self.tarball(image, tag);
        if target.exists() {
            return Ok(target);
        }
        if which::which("mmdebstrap").is_err() {
            bail!("mmdebstrap is not installed; run `cargo xtask sandbox setup --yes` (Debian: apt-get install mmdebstrap)");
        }
        std::fs::create_dir_all(&self.cache_dir).with_context(|| format!("creating {}", self.cache_dir.display()))?;
        let work = tempfile::Builder::new()
            .prefix(&format!(".{image}-"))
            .tempdir_in(&self.cache_dir)
            .context("creating a build directory")?;
        let sources_file = work.path().join("sources.sources");
        std::fs::write(&sources_file, sources::render_deb822(&self.sources()?)).context("writing apt sources")?;
        let partial = work.path().join("rootfs.tar");
        let argv = self.argv(image, &partial, &sources_file, &self.cache_dir.join("debs"))?;

        ui::status("Building", format!("image {image} with mmdebstrap ({})", self.lock.apt_pins(image)?.join(" ")));
        let started = Instant::now();
        let mut child = Command::new("mmdebstrap")
            .args(&argv)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting mmdebstrap")?;
        let mut log = Vec::new();
        for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
            let line = line.unwrap_or_default();
            if let Some(stage) = line.strip_prefix("I: ") {
                ui::info(image, stage);
            }
            log.push(line);
        }
        let status = child.wait().context("waiting for mmdebstrap")?;
        if !status.success() {
            std::fs::write(self.cache_dir.join(format!("{image}-build.log")), log.join("\n")).ok();
            return Err(explain_failure(image, &log));
        }
        std::fs::rename(&partial, &target).with_context(|| format!("storing {}", target.display()))?;
        ui::status("Built", format!("image {image} in {:.1} s", started.elapsed().as_secs_f64()));
        Ok(target)
    }
}

/// One clear error from mmdebstrap's log, naming a vanished pin when that is the cause.
pub fn explain_failure(image: &str, log: &[String]) -> anyhow::Error {
    let re = regex::Regex::new(r"Version '([^']+)' for '([^']+)' was not found").expect("valid regex");
    let missing: Vec<String> =
        log.iter().filter_map(|l| re.captures(l).map(|c| format!("{}={}", &c[2], &c[1]))).collect();
    if !missing.is_empty() {
        return anyhow::anyhow!(
            "the mirror no longer serves {} (pinned for image {image}). Either move the lock to what it serves: `cargo xtask sandbox images lock --update`, or rebuild exactly from a snapshot: `cargo xtask sandbox images build --mirror http://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ>/`",
            missing.join(", ")
        );
    }
    let tail: Vec<&str> =
        log.iter().rev().filter(|l| l.starts_with("E: ") || l.contains("rror")).take(5).map(String::as_str).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    anyhow::anyhow!(
        "building image {image} with mmdebstrap failed: {}",
        if tail.is_empty() { "see the build log".to_string() } else { tail.join(" | ") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_pins_every_package_and_ends_with_suite_target_sources() {
        let lock = crate::lock::load().unwrap();
        let b = Builder { lock: &lock, cache_dir: "/c".into(), mirrors: vec![] };
        let a = b.argv("notary", Path::new("/o.tar"), Path::new("/s.sources"), Path::new("/c/debs")).unwrap();
        let include = a.iter().find(|s| s.starts_with("--include=")).unwrap();
        assert!(include.contains("notary=0.7.0+ds1-2+b6"), "{include}");
        assert_eq!(&a[a.len() - 3..], ["bookworm", "/o.tar", "/s.sources"]);
        assert!(a.iter().any(|s| s.contains("/etc/trust-sandbox-image")));
    }

    #[test]
    fn registry_gets_the_name_the_spec_uses() {
        assert!(customize_hooks("registry")[0].contains("/usr/local/bin/registry"));
        assert!(customize_hooks("notary").is_empty());
    }

    #[test]
    fn a_vanished_pin_names_the_package_and_both_ways_out() {
        let log = vec!["I: x".to_string(), "E: Version '0.7.0+ds1-2+b9' for 'notary' was not found".to_string()];
        let msg = explain_failure("notary", &log).to_string();
        assert!(msg.contains("notary=0.7.0+ds1-2+b9"), "{msg}");
        assert!(msg.contains("images lock --update") && msg.contains("--mirror"), "{msg}");
    }

    #[test]
    fn other_failures_quote_the_error_lines() {
        let msg = explain_failure("db", &["E: Unable to locate package nope".to_string()]).to_string();
        assert!(msg.contains("Unable to locate package nope"), "{msg}");
    }
}

#[cfg(test)]
mod baseline_tmp {
    #[test]
    #[ignore]
    fn baseline_cold_build() {
        let lock = crate::lock::load().unwrap();
        let dir = std::path::PathBuf::from(std::env::var("BASE_CACHE").unwrap());
        let b = super::Builder { lock: &lock, cache_dir: dir, mirrors: vec![] };
        let t0 = std::time::Instant::now();
        for image in ["db", "notary", "registry", "client"] {
            let t = std::time::Instant::now();
            b.build(image, &lock.tag(image).unwrap()).unwrap();
            eprintln!("BASELINE {image} {:.1}", t.elapsed().as_secs_f64());
        }
        eprintln!("BASELINE total {:.1}", t0.elapsed().as_secs_f64());
    }
}
