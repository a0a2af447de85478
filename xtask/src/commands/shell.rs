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
    ui::info(
        "Shell",
        format!(
            "in the client: DOCKER_CONTENT_TRUST=1, server {}, registry {}; passphrases are preset (exit to leave)",
            sb.spec.server_url()?,
            sb.spec.registry_address()?
        ),
    );
    let client = sb.container(&sb.spec.client()?.name);
    let status = sb
        .engine
        .attach(&client, &["bash", "-l"], &env, std::io::stdin().is_terminal())
        .context("starting the shell")?;
    Ok(exit_code(status, "the shell"))
}

/// The exit code of an `exec` in the client, passed through; a death by signal (137: SIGKILL,
/// e.g. the container was stopped or ran out of memory) also gets a line saying so.
pub fn exit_code(status: std::process::ExitStatus, what: &str) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    if code > 128 && code < 160 {
        let signal = match code - 128 {
            9 => "SIGKILL: the container was stopped or removed, or the process ran out of memory".to_string(),
            15 => "SIGTERM".to_string(),
            2 => "SIGINT".to_string(),
            n => format!("signal {n}"),
        };
        ui::warn(format!("{what} was killed by {signal} (exit {code}); see `cargo xtask sandbox status`"));
    }
    ExitCode::from(code.clamp(0, 255) as u8)
}
