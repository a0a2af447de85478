//! `exec [--identity NAME] -- CMD ARGS…`: one command in the client for scripts, the compose-style
//! sibling of the interactive `shell`. The trust environment and the passphrases are preset (values
//! through the engine client's environment, never its argv), stdin is passed on, and the command's
//! exit code is this command's exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::cli::ExecArgs;
use crate::sandbox::{Sandbox, Selector};
use crate::scenario::executor::wrap_script;

pub fn run(sh: &Shell, sel: &Selector, args: &ExecArgs) -> Result<ExitCode> {
    if let Some(id) = &args.identity {
        let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            bail!("identity `{id}` must be lowercase letters, digits and `-` (it names a directory)");
        }
    }
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
    let status = sb.engine.attach(&sb.container(&sb.spec.client()?.name), &argv, &env, tty)?;
    Ok(super::shell::exit_code(status, "the command"))
}
