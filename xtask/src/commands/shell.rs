//! `shell`: an interactive shell in the client, with the trust environment set.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::sandbox::{Sandbox, Selector};
use crate::ui;

/// An interactive shell in the client, as the guide's "Playing in the sandbox".
pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    let secrets = sb.secrets()?;
    let env = secrets.client_env();
    let mut cmd = std::process::Command::new(&sb.engine.bin);
    cmd.arg("exec").arg("--interactive");
    if std::io::stdin().is_terminal() {
        cmd.arg("--tty");
    }
    for (k, v) in &env {
        cmd.arg("--env").arg(k);
        cmd.env(k, v);
    }
    cmd.arg(sb.container(&sb.spec.client()?.name)).args(["bash", "-l"]);
    ui::info(
        "Shell",
        format!(
            "in the client: DOCKER_CONTENT_TRUST=1, server {}, registry {}; passphrases are preset (exit to leave)",
            sb.spec.server_url()?,
            sb.spec.registry_address()?
        ),
    );
    let status = cmd.status().context("starting the shell")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8)
    })
}
