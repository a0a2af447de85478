//! `setup`: install and configure what the engines and image builds need (with consent), and
//! start dockerd when nothing manages it.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::SetupArgs;
use crate::engine::EngineKind;
use crate::host;
use crate::sandbox::Selector;

pub fn run(sh: &Shell, sel: &Selector, a: &SetupArgs) -> Result<ExitCode> {
    let engines = match (a.all_engines, sel.engine) {
        (true, _) => vec![EngineKind::Docker, EngineKind::Podman],
        (false, Some(k)) => vec![k],
        // One engine, as `--all-engines` says: the one `play` will pick. Installing podman as
        // well cost a fresh machine's apt a third more (measured in a bookworm chroot: 47 s
        // instead of 35 s under load), for an engine the main job never starts.
        (false, None) => vec![host::default_engine()],
    };
    host::setup(sh, &engines, a.yes)?;
    crate::timing::finish_setup(&crate::util::cache_dir().join(crate::timing::SETUP_RECORD));
    Ok(ExitCode::SUCCESS)
}
