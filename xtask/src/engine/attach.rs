//! Engine calls whose output this tool does not capture: an `exec` attached to the terminal (the
//! `shell` and `exec` commands), a service's log streamed to it (`logs`), and an `exec` spawned
//! with its pipes handed to the caller, who reads them as they come (a scenario step).

use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{Context, Result};
use xshell::Shell;

use super::{exec_args, Engine, Stdin};

impl Engine {
    /// `exec` in `container` with this process's stdin, stdout and stderr; `env` values go through
    /// the engine client's environment (its argv names them only). Returns how the command ended.
    pub fn attach(&self, container: &str, argv: &[&str], env: &[(String, String)], tty: bool) -> Result<ExitStatus> {
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        let stdin = if tty { Stdin::Terminal } else { Stdin::Piped };
        Command::new(&self.bin)
            .args(exec_args(container, &names, stdin, argv))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .status()
            .with_context(|| format!("running {} exec in {container}", self.kind))
    }

    /// The last `tail` lines of `container`'s log on this terminal, then, with `follow`, what it
    /// writes until interrupted.
    pub fn logs(&self, sh: &Shell, container: &str, tail: usize, follow: bool) -> Result<()> {
        let bin = &self.bin;
        let tail = tail.to_string();
        let follow: &[&str] = if follow { &["--follow"] } else { &[] };
        xshell::cmd!(sh, "{bin} logs --tail {tail} {follow...} {container}").quiet().run()?;
        Ok(())
    }

    /// `exec` in `container` with stdin closed and stdout and stderr piped to the returned child,
    /// in a process group of its own (a Ctrl-C at the terminal reaches this tool, which decides
    /// what to stop, not the engine's client). `env` values go through the client's environment.
    pub fn spawn_exec(&self, container: &str, argv: &[&str], env: &[(&str, &str)]) -> std::io::Result<Child> {
        let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
        let mut cmd = Command::new(&self.bin);
        cmd.args(exec_args(container, &names, Stdin::Closed, argv))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .envs(env.iter().copied());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.spawn()
    }
}
