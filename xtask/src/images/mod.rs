//! Image sources behind one seam: Debian (mmdebstrap, pinned by images.lock) and Nix (the flake's
//! dockerTools images). Both end as `localhost/trust-sandbox/<image>:<tag>` in the engine.

pub mod debian;
pub mod nix;
pub mod sources;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use xshell::Shell;

use crate::engine::Engine;
use crate::lock::Lock;
use crate::spec::Spec;
use crate::ui;

pub const REPO_PREFIX: &str = "localhost/trust-sandbox/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Nix when a working `nix` with flakes is present, else Debian.
    Auto,
    Debian,
    Nix,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub mirrors: Vec<String>,
    pub rebuild: bool,
}

pub fn reference(image: &str, tag: &str) -> String {
    format!("{REPO_PREFIX}{image}:{tag}")
}

pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRUST_SANDBOX_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("trust-sandbox")
}

fn flake_root() -> PathBuf {
    crate::spec::source_root()
}

pub fn resolve(sh: &Shell, kind: SourceKind) -> SourceKind {
    match kind {
        SourceKind::Auto if nix::nix_usable(sh) => SourceKind::Nix,
        SourceKind::Auto => SourceKind::Debian,
        k => k,
    }
}

/// Makes every image of the spec present in the engine; returns image name → reference.
pub fn ensure(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    kind: SourceKind,
    opts: &Options,
) -> Result<BTreeMap<String, String>> {
    let mut refs = BTreeMap::new();
    match resolve(sh, kind) {
        SourceKind::Nix => {
            for image in spec.image_names() {
                let store =
                    nix::build(sh, &flake_root(), image).with_context(|| format!("building image {image} with nix"))?;
                let reference = reference(image, &nix::store_tag(&store)?);
                if !engine.image_exists(sh, &reference)? {
                    ui::status("Loading", format!("{image} from {}", store.display()));
                    let loaded = engine.load(sh, &store).with_context(|| format!("loading image {image}"))?;
                    engine.tag(sh, &loaded, &reference)?;
                }
                refs.insert(image.to_string(), reference);
            }
        }
        _ => {
            let lock = crate::lock::load()?;
            let builder =
                debian::Builder { lock: &lock, cache_dir: cache_dir().join("debian"), mirrors: opts.mirrors.clone() };
            // Two sandboxes (say, one per engine) coming up at once share the tarball and .deb caches.
            let _guard = builder.lock_cache()?;
            for image in spec.image_names() {
                let tag = lock.tag(image)?;
                let reference = reference(image, &tag);
                if opts.rebuild {
                    engine.rmi(sh, &reference)?;
                    let _ = std::fs::remove_file(builder.tarball(image, &tag));
                }
                if !engine.image_exists(sh, &reference)? {
                    let tarball = builder.build(image, &tag)?;
                    ui::status("Importing", format!("{image} into {}", engine.kind));
                    engine
                        .import(sh, &tarball, &reference, &import_changes(spec, image)?)
                        .with_context(|| format!("importing image {image}"))?;
                }
                refs.insert(image.to_string(), reference);
            }
        }
    }
    Ok(refs)
}

/// The image's default command, from the spec so both sources agree.
pub fn import_changes(spec: &Spec, image: &str) -> Result<Vec<String>> {
    let cmd = &spec.images.get(image).with_context(|| format!("unknown image {image}"))?.cmd;
    Ok(vec![
        format!("CMD {}", serde_json::to_string(cmd)?),
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    ])
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub image: String,
    pub reference: String,
    pub current: bool,
    pub size: String,
}

/// Every trust-sandbox image in the engine, marking the ones the current lock names.
pub fn list(sh: &Shell, engine: &Engine) -> Result<Vec<Listed>> {
    let lock = crate::lock::load()?;
    let mut out = Vec::new();
    for (reference, size) in engine.images_under(sh, REPO_PREFIX)? {
        let rest = reference.trim_start_matches(REPO_PREFIX);
        let (image, tag) = rest.split_once(':').unwrap_or((rest, ""));
        let current = lock.tag(image).map(|t| t == tag).unwrap_or(false);
        out.push(Listed { image: image.to_string(), reference, current, size });
    }
    Ok(out)
}

/// Removes trust-sandbox images (all, or only the ones the lock no longer names) and their tarballs.
pub fn remove(sh: &Shell, engine: &Engine, stale_only: bool) -> Result<usize> {
    let mut n = 0;
    for l in list(sh, engine)? {
        if stale_only && l.current {
            continue;
        }
        engine.rmi(sh, &l.reference)?;
        ui::status("Removed", &l.reference);
        n += 1;
    }
    if !stale_only {
        let dir = cache_dir().join("debian");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "tar") {
                    std::fs::remove_file(e.path()).ok();
                }
            }
        }
    }
    Ok(n)
}

/// Moves every pin to the candidate version the host's apt (same mirror) offers now.
pub fn update_lock(sh: &Shell, lock: &mut Lock) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    for (name, image) in lock.images.iter_mut() {
        for (pkg, version) in image.packages.iter_mut() {
            let out = xshell::cmd!(sh, "apt-cache policy {pkg}")
                .quiet()
                .read()
                .with_context(|| format!("asking apt about {pkg}"))?;
            let candidate = out
                .lines()
                .find_map(|l| l.trim().strip_prefix("Candidate:"))
                .map(str::trim)
                .filter(|c| *c != "(none)")
                .with_context(|| format!("apt knows no candidate for {pkg}; run `apt-get update` first"))?;
            if candidate != version {
                changes.push(format!("{name}: {pkg} {version} -> {candidate}"));
                *version = candidate.to_string();
            }
        }
    }
    Ok(changes)
}
