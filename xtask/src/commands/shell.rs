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
    Ok(exit_code(sh, &sb, &client, status, "the shell"))
}

/// The exit code of an `exec` in the client, passed through. A code above 128 is what the
/// command (or the shell in it) returned: `exit 130` and a death by SIGINT both come back as 130
/// through the engine, so nothing is claimed about a signal unless it is known: when the engine's
/// own client was killed, or when the container stopped while the command ran (137).
pub fn exit_code(sh: &Shell, sb: &Sandbox, container: &str, status: std::process::ExitStatus, what: &str) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let running = || sb.engine.container(sh, container).ok().flatten().is_some_and(|c| c.running);
    let (code, note) = explain(status.code(), status.signal(), running, what, &sb.engine.kind.to_string());
    if let Some(note) = note {
        ui::warn(note);
    }
    ExitCode::from(code)
}

/// The exit code and, when something is known about how it ended, a line saying so.
fn explain(
    code: Option<i32>,
    signal: Option<i32>,
    container_running: impl FnOnce() -> bool,
    what: &str,
    engine: &str,
) -> (u8, Option<String>) {
    if let Some(sig) = signal {
        let code = u8::try_from(128 + sig).unwrap_or(u8::MAX);
        return (code, Some(format!("the {engine} client running {what} was killed by signal {sig} (exit {code}); the command may still run in the container")));
    }
    let code = code.unwrap_or(1);
    let byte = u8::try_from(code.clamp(0, 255)).unwrap_or(u8::MAX);
    if code == 137 && !container_running() {
        return (
            byte,
            Some(format!("{what} ended with 137 and the client container is no longer running: it was stopped or removed meanwhile; see `cargo xtask sandbox status`")),
        );
    }
    (byte, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commands_own_code_is_passed_through_without_a_story() {
        for code in [0, 1, 7, 130, 137, 143, 255] {
            let (c, note) = explain(Some(code), None, || true, "the command", "docker");
            assert_eq!((i32::from(c), note), (code, None), "exit {code} is the command's, nothing more is known");
        }
    }

    #[test]
    fn what_is_known_is_said() {
        let (c, note) = explain(None, Some(15), || true, "the command", "podman");
        assert_eq!(c, 143);
        assert!(note.unwrap().contains("podman client running the command was killed by signal 15"));
        let (c, note) = explain(Some(137), None, || false, "the command", "docker");
        assert_eq!(c, 137);
        assert!(note.unwrap().contains("no longer running"));
    }
}
