//! `setup`: install and configure what the engines and image builds need (with consent), start
//! dockerd when nothing manages it, and have the images ready: built while apt installs the
//! engine, then loaded into it.

use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::SetupArgs;
use crate::engine::{Engine, EngineKind};
use crate::host;
use crate::images::{self, SourceKind};
use crate::sandbox::Selector;

pub fn run(sh: &Shell, sel: &Selector, a: &SetupArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let engines = match (a.all_engines, sel.engine) {
        (true, _) => vec![EngineKind::Docker, EngineKind::Podman],
        (false, Some(k)) => vec![k],
        // One engine, as `--all-engines` says: the one `play` will pick. Installing podman as
        // well cost a fresh machine's apt a third more (measured in a bookworm chroot: 47 s
        // instead of 35 s under load), for an engine the main job never starts.
        (false, None) => vec![host::default_engine()],
    };
    let spec = crate::table::load()?;
    let names = spec.image_names();
    let opts = images::Options::default();
    // The Debian images build without an engine (mmdebstrap), so they build while apt installs
    // one. Nix images are built by `up` through nix; without root mmdebstrap cannot run here.
    let prebuild = !a.no_images
        && host::is_root()
        && images::resolve(sh, SourceKind::default_for_up()) == SourceKind::Debian
        && !engines.iter().all(|&k| loaded(sh, k, &spec, &opts));
    let build =
        || if prebuild { images::build_debian_layers(&names, &opts).context("building the images") } else { Ok(()) };
    host::setup_alongside(sh, &engines, a.yes, build)?;
    if prebuild {
        for &k in &engines {
            let engine = Engine::detect(sh, Some(k))?;
            images::ensure(sh, &engine, &spec, SourceKind::Debian, &opts)
                .with_context(|| format!("loading the images into {k}"))?;
        }
    }
    crate::timing::finish_setup(
        started.elapsed().as_secs_f64(),
        &crate::util::cache_dir().join(crate::timing::SETUP_RECORD),
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether `kind` is installed, answers and holds every Debian image already (then `setup` builds
/// nothing, even where the layer cache was cleared).
fn loaded(sh: &Shell, kind: EngineKind, spec: &crate::table::Spec, opts: &images::Options) -> bool {
    Engine::detect(sh, Some(kind))
        .and_then(|e| images::held(sh, &e, spec, SourceKind::Debian, opts))
        .is_ok_and(|held| held.is_some())
}
