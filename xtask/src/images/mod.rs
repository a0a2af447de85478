//! Image sources behind one seam: Debian (mmdebstrap, pinned by images.lock) and Nix (the flake's
//! dockerTools images). Both end as `localhost/trust-sandbox/<image>:<tag>` in the engine.

pub mod archive;
pub mod client_cli;
pub mod debian;
pub mod layer;
pub mod lock;
pub mod nix;
pub mod sources;
pub mod trim;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xshell::Shell;

use crate::engine::Engine;
use crate::images::lock::Lock;
use crate::table::Spec;
use crate::{ui, util};

pub const REPO_PREFIX: &str = "localhost/trust-sandbox/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Nix when a working `nix` with flakes is present, else Debian.
    Auto,
    Debian,
    Nix,
}

impl SourceKind {
    /// What `up` uses when no `--images` is given: TRUST_SANDBOX_IMAGES, else `auto`.
    pub fn default_for_up() -> SourceKind {
        Self::from_env(std::env::var("TRUST_SANDBOX_IMAGES").ok().as_deref())
    }

    fn from_env(value: Option<&str>) -> SourceKind {
        value.and_then(|v| <SourceKind as clap::ValueEnum>::from_str(v, true).ok()).unwrap_or(SourceKind::Auto)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub mirrors: Vec<String>,
    pub rebuild: bool,
}

pub fn reference(image: &str, tag: &str) -> String {
    format!("{REPO_PREFIX}{image}:{tag}")
}

fn flake_root() -> PathBuf {
    crate::table::source_root()
}

pub fn resolve(sh: &Shell, kind: SourceKind) -> SourceKind {
    match kind {
        SourceKind::Auto if nix::nix_usable(sh) => SourceKind::Nix,
        SourceKind::Auto => SourceKind::Debian,
        k => k,
    }
}

/// What [`ensure`] would return when the engine already holds every image (the Debian images,
/// not rebuilt), found with one `image inspect` and nothing locked or built: `up` asks this beside
/// its other questions. None when `ensure` has work to do (or the images come from Nix).
pub fn held(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    kind: SourceKind,
    opts: &Options,
) -> Result<Option<BTreeMap<String, String>>> {
    if opts.rebuild || resolve(sh, kind) != SourceKind::Debian {
        return Ok(None);
    }
    let lock = crate::images::lock::load()?;
    let mut refs = BTreeMap::new();
    for image in spec.image_names() {
        refs.insert(image.to_string(), reference(image, &lock.tag(image)?));
    }
    let present = engine.images_present(sh, &refs.values().cloned().collect::<Vec<_>>())?;
    Ok(present.iter().all(|&here| here).then_some(refs))
}

/// Makes every image the services use present in the engine; returns image name → reference.
pub fn ensure(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    kind: SourceKind,
    opts: &Options,
) -> Result<BTreeMap<String, String>> {
    ensure_only(sh, engine, spec, kind, opts, &spec.image_names())
}

/// Makes the named images present in the engine (e.g. the on-demand `signers`).
pub fn ensure_only(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    kind: SourceKind,
    opts: &Options,
    names: &[&str],
) -> Result<BTreeMap<String, String>> {
    let mut refs = BTreeMap::new();
    match resolve(sh, kind) {
        SourceKind::Nix => {
            for &image in names {
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
        _ => refs = ensure_debian(sh, engine, spec, opts, names, &util::cache_dir().join("debian"), REPO_PREFIX)?,
    }
    Ok(refs)
}

/// The Debian path of [`ensure_only`] with its cache and repository prefix given: `images build
/// --cache-dir --repo` builds into a throwaway namespace (a second, independent build to compare).
pub fn ensure_debian(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    opts: &Options,
    names: &[&str],
    cache: &std::path::Path,
    repo_prefix: &str,
) -> Result<BTreeMap<String, String>> {
    let lock = crate::images::lock::load()?;
    let builder = debian::Builder { lock: &lock, cache_dir: cache.to_path_buf(), mirrors: opts.mirrors.clone() };
    // Two sandboxes (say, one per engine) coming up at once share the layer and .deb caches.
    let _guard = builder.lock_cache()?;
    let mut refs = BTreeMap::new();
    let mut wanted = Vec::new();
    for &image in names {
        let tag = lock.tag(image)?;
        let reference = format!("{repo_prefix}{image}:{tag}");
        if opts.rebuild {
            engine.rmi(sh, &reference)?;
        }
        refs.insert(image.to_string(), reference.clone());
        wanted.push((image, tag, reference));
    }
    let present = engine.images_present(sh, &wanted.iter().map(|w| w.2.clone()).collect::<Vec<_>>())?;
    let missing: Vec<(&str, String)> =
        wanted.into_iter().zip(present).filter(|(_, here)| !here).map(|((image, tag, _), _)| (image, tag)).collect();
    if !missing.is_empty() {
        debian::clean_stale_builds(&builder.cache_dir);
        load_debian(sh, engine, spec, &builder, &missing, opts.rebuild, repo_prefix)?;
    }
    Ok(refs)
}

/// Builds the Debian layers of `names` into the default cache without any engine: `setup` runs
/// this while apt installs the engine, so that a fresh machine's `up` only loads.
pub fn build_debian_layers(names: &[&str], opts: &Options) -> Result<()> {
    let lock = crate::images::lock::load()?;
    let builder =
        debian::Builder { lock: &lock, cache_dir: util::cache_dir().join("debian"), mirrors: opts.mirrors.clone() };
    let _guard = builder.lock_cache()?;
    let wanted: Vec<(&str, String)> =
        names.iter().map(|&image| Ok((image, lock.tag(image)?))).collect::<Result<_>>()?;
    let wanted: Vec<(&str, &str)> = wanted.iter().map(|(i, t)| (*i, t.as_str())).collect();
    debian::clean_stale_builds(&builder.cache_dir);
    builder.prepare(&wanted, opts.rebuild).map(drop)
}

/// Builds (or takes from the cache) the layers of `missing` and loads them as one archive, each
/// image named `<repo_prefix><image>:<tag>`.
pub fn load_debian(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    builder: &debian::Builder<'_>,
    missing: &[(&str, String)],
    rebuild: bool,
    repo_prefix: &str,
) -> Result<()> {
    let wanted: Vec<(&str, &str)> = missing.iter().map(|(i, t)| (*i, t.as_str())).collect();
    let records = builder.prepare(&wanted, rebuild)?;
    let mut images = Vec::new();
    for (image, tag) in missing {
        let record = records.get(*image).with_context(|| format!("no layers for image {image}"))?;
        images.push(debian_image(spec, builder, image, &format!("{repo_prefix}{image}:{tag}"), record)?);
    }
    let out = tempfile::Builder::new()
        .prefix(&format!(".load-{}-", std::process::id()))
        .suffix(".tar")
        .tempfile_in(&builder.cache_dir)
        .context("creating the image archive")?;
    let names: Vec<&str> = missing.iter().map(|(i, _)| *i).collect();
    ui::status("Loading", format!("{} into {}", names.join(", "), engine.kind));
    // The archive's writing counts as loading: it is what the engine reads.
    crate::timing::timed("load", || -> Result<String> {
        archive::write(out.path(), &images, &debian::created(), debian::SOURCE_DATE_EPOCH)?;
        engine.load(sh, out.path())
    })
    .with_context(|| format!("loading images {}", names.join(", ")))?;
    for image in &images {
        if !engine.image_exists(sh, &image.reference)? {
            bail!("{} loaded the archive but has no {}", engine.kind, image.reference);
        }
    }
    Ok(())
}

/// What the Debian path loads as `reference`: the record's layers, sandbox.json's Cmd and the
/// PATH. The Nix check (crate::nixcheck) compares its config with the Nix images'.
pub fn debian_image(
    spec: &Spec,
    builder: &debian::Builder<'_>,
    image: &str,
    reference: &str,
    record: &debian::Record,
) -> Result<archive::Image> {
    let cmd = &spec.images.get(image).with_context(|| format!("unknown image {image}"))?.cmd;
    Ok(builder.archive_image(reference, record, cmd, &[format!("PATH={IMAGE_PATH}")]))
}

/// PATH of every image, as Debian's login shells set it.
const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One image as the engine holds it after a build.
#[derive(Debug, Serialize)]
pub struct Built {
    pub image: String,
    pub reference: String,
    /// The image ID (sha256 of its config, without the `sha256:` prefix): equal IDs mean equal images.
    pub id: String,
    pub size_mb: f64,
}

/// The engine's ID and size of each built image.
pub fn describe(sh: &Shell, engine: &Engine, refs: BTreeMap<String, String>) -> Result<Vec<Built>> {
    let references: Vec<String> = refs.values().cloned().collect();
    let ids = engine.image_ids(sh, &references)?;
    Ok(refs
        .into_iter()
        .zip(ids)
        .map(|((image, reference), (id, size))| Built { image, reference, id, size_mb: size as f64 / 1e6 })
        .collect())
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
    let lock = crate::images::lock::load()?;
    let mut out = Vec::new();
    for (reference, size) in engine.images_under(sh, REPO_PREFIX)? {
        let rest = reference.trim_start_matches(REPO_PREFIX);
        let (image, tag) = rest.split_once(':').unwrap_or((rest, ""));
        let current = lock.tag(image).map(|t| t == tag).unwrap_or(false) || client_cli::is_current(&lock, image, tag);
        out.push(Listed { image: image.to_string(), reference, current, size });
    }
    Ok(out)
}

/// Removes trust-sandbox images (all, or only the ones the lock no longer names) and their cache.
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
        debian::clear_cache(&util::cache_dir().join("debian"));
    }
    Ok(n)
}

/// Moves every pin to the candidate version the host's apt (same mirror) offers now; an image with
/// extra suites asks a private apt that knows them the way the image's own apt does. The client
/// CLIs move too, never to a docker without content trust.
pub fn update_lock(sh: &Shell, lock: &mut Lock) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let base_suite = lock.debian.suite.clone();
    for (name, image) in lock.images.iter_mut() {
        let private = if image.extra_suites.is_empty() && image.suite.is_none() {
            None
        } else {
            // An image on a base of its own (the consumer's trixie): the same archives, its suite.
            let image_suite = image.suite.clone().unwrap_or_else(|| base_suite.clone());
            let host = sources::from_host(std::path::Path::new("/etc/apt"), &base_suite)?;
            let base = sources::renamed(&host, &base_suite, &image_suite);
            Some(
                private_apt(sh, &base, &image_suite, &image.extra_suites)
                    .with_context(|| format!("asking apt for image {name}"))?,
            )
        };
        for (pkg, version) in image.packages.iter_mut() {
            let candidate = apt_candidate(sh, pkg, private.as_ref().map(|d| d.path()))?;
            if candidate != *version {
                changes.push(format!("{name}: {pkg} {version} -> {candidate}"));
                *version = candidate;
            }
        }
    }
    let max_major = crate::table::load()?.versions.docker_cli_max_major;
    changes.extend(client_cli::update_pins(sh, lock, max_major)?);
    Ok(changes)
}

/// The version apt would install of `pkg`: the host's apt, or the private one in `private`.
pub fn apt_candidate(sh: &Shell, pkg: &str, private: Option<&std::path::Path>) -> Result<String> {
    let mut c = xshell::cmd!(sh, "apt-cache policy {pkg}").quiet();
    if let Some(dir) = private {
        c = c.env("APT_CONFIG", dir.join("apt.conf"));
    }
    let out = c.read().with_context(|| format!("asking apt about {pkg}"))?;
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .filter(|c| *c != "(none)")
        .map(String::from)
        .with_context(|| format!("apt knows no candidate for {pkg}; run `apt-get update` first"))
}

/// A throwaway apt that knows `suite` alone, served by the archives of `base` (the sources of
/// `base_suite`): to fetch one exactly pinned package of another suite (a client CLI, Compose v2)
/// with nothing of the base suite installed, so its lists are not needed.
pub fn private_apt_of_suite(
    sh: &Shell,
    base: &[sources::Source],
    base_suite: &str,
    suite: &str,
) -> Result<tempfile::TempDir> {
    private_apt(sh, &sources::for_extra_suite(base, base_suite, suite), suite, &[])
}

/// A throwaway apt configuration with `base` (the sources of `base_suite`: the host's, an image's
/// own suite in the same archives, or a client CLI's alone) plus `extra` at their low priority,
/// updated once.
pub fn private_apt(
    sh: &Shell,
    base: &[sources::Source],
    base_suite: &str,
    extra: &[String],
) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("trust-sandbox-apt-").tempdir()?;
    let root = dir.path();
    for d in ["etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d", "lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    let mut all = base.to_vec();
    for suite in extra {
        all.extend(sources::for_extra_suite(base, base_suite, suite));
        std::fs::write(root.join(format!("etc/preferences.d/{suite}")), sources::low_priority_preference(suite))?;
    }
    std::fs::write(root.join("etc/sources.list.d/trust-sandbox.sources"), sources::render_deb822(&all))?;
    let r = root.display();
    let conf = format!(
        "Dir::Etc \"{r}/etc\";\nDir::Etc::sourcelist \"/dev/null\";\nDir::State::Lists \"{r}/lists\";\nDir::Cache \"{r}/cache\";\nDir::State::status \"/dev/null\";\nAcquire::Languages \"none\";\nAPT::Sandbox::User \"root\";\n"
    );
    std::fs::write(root.join("apt.conf"), conf)?;
    let suites: Vec<&str> = std::iter::once(base_suite).chain(extra.iter().map(String::as_str)).collect();
    ui::info("Updating", format!("a private apt with Debian {} for pinned packages", suites.join(", ")));
    xshell::cmd!(sh, "apt-get update -qq")
        .env("APT_CONFIG", root.join("apt.conf"))
        .quiet()
        .ignore_stdout()
        .run()
        .context("apt-get update with the extra suites")?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_defaults_to_auto_unless_the_environment_names_a_source() {
        assert_eq!(SourceKind::from_env(None), SourceKind::Auto);
        assert_eq!(SourceKind::from_env(Some("debian")), SourceKind::Debian);
        assert_eq!(SourceKind::from_env(Some("NIX")), SourceKind::Nix);
        assert_eq!(SourceKind::from_env(Some("bogus")), SourceKind::Auto);
    }
}
