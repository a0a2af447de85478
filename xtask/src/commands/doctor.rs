//! `doctor`: checks what `setup` would install or configure and prints exact instructions,
//! changing nothing.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::engine::EngineKind;
use crate::{host, ui};

pub fn run(sh: &Shell) -> Result<ExitCode> {
    let mut all_ok = true;
    for c in host::checks(sh, &[EngineKind::Docker, EngineKind::Podman]) {
        if c.ok {
            ui::status("ok", c.what);
        } else {
            all_ok = false;
            ui::warn(format!("{}: missing. Fix: {}", c.what, c.fix));
        }
    }
    if !host::is_debian() {
        ui::info(
            "Note",
            "not a Debian/Ubuntu host: install the equivalents with your package manager, or use `nix develop`",
        );
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
