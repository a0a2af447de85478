//! `down`: containers and network go; trust data, keys and PKI stay. Safe to repeat.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::sandbox::{lifecycle, Sandbox, Selector};
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    match Sandbox::open(sh, sel)? {
        Some(sb) => lifecycle::down(sh, &sb)?,
        None => ui::info("Down", format!("no sandbox named `{}`: nothing to do", sel.name)),
    }
    Ok(ExitCode::SUCCESS)
}
