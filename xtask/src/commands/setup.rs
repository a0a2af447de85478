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
        (true, _) | (false, None) => vec![EngineKind::Docker, EngineKind::Podman],
        (false, Some(k)) => vec![k],
    };
    host::setup(sh, &engines, a.yes)?;
    crate::timing::finish_setup();
    Ok(ExitCode::SUCCESS)
}
