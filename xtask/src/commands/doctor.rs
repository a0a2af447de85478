//! `doctor`: checks what `setup` would install or configure, and the sandbox named by `--name`
//! (a wedged service, with the fix), and prints exact instructions, changing nothing.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::engine::EngineKind;
use crate::sandbox::{status, Sandbox, Selector};
use crate::{host, ui};

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    let mut all_ok = true;
    for c in host::checks(sh, &[EngineKind::Docker, EngineKind::Podman]) {
        if c.ok {
            ui::status("ok", c.what);
        } else {
            all_ok = false;
            ui::warn(format!("{}: missing. Fix: {}", c.what, c.fix));
        }
    }
    for advice in host::advisories(sh) {
        ui::warn(advice);
    }
    all_ok &= sandbox_ok(sh, sel);
    if !host::is_debian() {
        ui::info(
            "Note",
            "not a Debian/Ubuntu host: install the equivalents with your package manager, or use `nix develop`",
        );
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The sandbox, if it exists and its engine answers: every service that will not come back by
/// itself is named, with why and the fix.
fn sandbox_ok(sh: &Shell, sel: &Selector) -> bool {
    let sb = match Sandbox::open(sh, sel) {
        Ok(Some(sb)) => sb,
        Ok(None) => return true,
        Err(e) => {
            ui::warn(format!("sandbox `{}`: cannot be checked: {e:#}", sel.name));
            return false;
        }
    };
    let st = match status::status(sh, &sb) {
        Ok(st) => st,
        Err(e) => {
            ui::warn(format!("sandbox `{}`: cannot be checked: {e:#}", sb.name));
            return false;
        }
    };
    let mut ok = true;
    for s in st.services.iter().filter(|s| s.wedged) {
        ok = false;
        ui::warn(format!("sandbox `{}`: {}. Fix: {}", sb.name, s.detail, s.fix.as_deref().unwrap_or_default()));
    }
    if ok {
        let ready = st.services.iter().filter(|s| s.ready).count();
        ui::status(
            "ok",
            format!("sandbox `{}`: {ready} of {} services ready, none wedged", sb.name, st.services.len()),
        );
    }
    ok
}
