//! `exec [--identity NAME] -- CMD ARGS…`: one command in the client for scripts, the compose-style
//! sibling of the interactive `shell`. The trust environment and the passphrases are preset (values
//! through the engine client's environment, never its argv), stdin is passed on, and the command's
//! exit code is this command's exit code. The identity was checked against the name rule by the
//! parser, before anything ran.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::ExecArgs;
use crate::sandbox::{Sandbox, Selector};
use crate::scenario::executor::wrap_script;

pub fn run(sh: &Shell, sel: &Selector, args: &ExecArgs) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    let env = sb.secrets()?.client_env();
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let wrapper;
    let mut argv: Vec<&str> = Vec::new();
    if let Some(id) = &args.identity {
        // The identity's config dir is prepared as for a scenario step; the command keeps its argv.
        wrapper = wrap_script("exec \"$@\"", Some(id), None);
        argv.extend(["sh", "-c", &wrapper, "sh"]);
    }
    argv.extend(args.command.iter().map(String::as_str));
    let client = sb.container(&sb.spec.client()?.name);
    let status = sb.engine.attach(&client, &argv, &env, tty)?;
    Ok(super::shell::exit_code(sh, &sb, &client, status, "the command"))
}
