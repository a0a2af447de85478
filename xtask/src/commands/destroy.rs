//! `destroy`: everything of the sandbox goes, volumes and state (trust data, keys, PKI) included.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::sandbox::{lifecycle, Selector};

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    lifecycle::destroy(sh, sel)?;
    Ok(ExitCode::SUCCESS)
}
