//! `down`: containers and network go; trust data, keys and PKI stay. Safe to repeat.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::sandbox::{lifecycle, Sandbox, Selector};
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    match Sandbox::open_surveyed(sh, sel)? {
        // Opening found and checked its objects: removed without asking the engine again.
        Some((sb, found)) => crate::sandbox::down::run(sh, &sb, &found)?,
        None => {
            // Nothing here; but containers of this name owned by another state must not look absent.
            lifecycle::refuse_foreign_objects(sh, sel)?;
            ui::info("Down", format!("no sandbox named `{}`: nothing to do", sel.name))
        }
    }
    Ok(ExitCode::SUCCESS)
}
