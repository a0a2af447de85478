//! `exec [--identity NAME] -- CMD ARGS…`: one command in the client for scripts, the compose-style
//! sibling of the interactive `shell`. The trust environment and the passphrases are preset (values
//! through the engine client's environment, never its argv), stdin is passed on, and the command's
//! exit code is this command's exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::ExecArgs;
use crate::sandbox::{Sandbox, Selector};
use crate::scenario::executor::wrap_script;
use crate::trust::identity::check_identity;

pub fn run(sh: &Shell, sel: &Selector, args: &ExecArgs) -> Result<ExitCode> {
    if let Some(id) = &args.identity {
        check_identity(id)?;
    }
    let sb = Sandbox::open_required(sh, sel)?;
    let env = sb.secrets()?.client_env();
    let mut cmd = std::process::Command::new(&sb.engine.bin);
    cmd.arg("exec").arg("--interactive");
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        cmd.arg("--tty");
    }
    for (k, v) in &env {
        cmd.arg("--env").arg(k);
        cmd.env(k, v);
    }
    cmd.arg(sb.container(&sb.spec.client()?.name));
    if let Some(id) = &args.identity {
        // The identity's config dir is prepared as for a scenario step; the command keeps its argv.
        cmd.args(["sh", "-c", &wrap_script("exec \"$@\"", Some(id), None), "sh"]);
    }
    cmd.args(&args.command);
    let status = cmd.status().with_context(|| format!("running {} exec", sb.engine.kind))?;
    Ok(super::shell::exit_code(status, "the command"))
}
