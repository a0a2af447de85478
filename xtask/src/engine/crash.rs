//! What a crash needs from the engine: killing a container's main process the way a crash does
//! (so the restart policy applies), restarting without a grace period, and reading its log lines
//! in time order around it.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::Engine;

impl Engine {
    /// Sends SIGKILL to the container's main process from the host, as an OOM kill or a crash
    /// would end it. `docker kill` would not do: the engine then counts the container as stopped
    /// by hand, and `unless-stopped` leaves it down. Returns the host pid that was killed.
    pub fn kill_main_process(&self, sh: &Shell, container: &str) -> Result<i64> {
        let c = self.container(sh, container)?.with_context(|| format!("no container {container}"))?;
        if !c.running || c.pid <= 0 {
            bail!("{container} is {} (no process to kill)", c.status);
        }
        let status = std::process::Command::new("kill")
            .args(["-KILL", &c.pid.to_string()])
            .stdin(std::process::Stdio::null())
            .status()
            .context("running kill (procps)")?;
        if !status.success() {
            bail!("kill -KILL {} ({container}'s main process) failed: {status}", c.pid);
        }
        Ok(c.pid)
    }

    /// Restarts the containers without a grace period (`restart --time 0`): the plain engine's
    /// own answer to a crashed stack, which `bench` sets `up`'s repair against.
    pub fn restart_now(&self, sh: &Shell, containers: &[&str]) -> Result<()> {
        let mut args = vec!["restart", "--time", "0"];
        args.extend(containers);
        self.checked(sh, &args).map(drop)
    }

    /// The container's log lines logged in `[since, until]` (RFC 3339 times; either end open),
    /// both streams merged in time order, without their timestamps.
    pub fn log_lines(
        &self,
        sh: &Shell,
        container: &str,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut args = vec!["logs", "--timestamps"];
        if let Some(s) = since {
            args.extend(["--since", s]);
        }
        if let Some(u) = until {
            args.extend(["--until", u]);
        }
        args.push(container);
        let out = self.raw(sh, &args)?;
        if !out.ok() {
            bail!("{} logs {container}: {}", self.kind, out.combined().trim());
        }
        Ok(in_time_order(&out.stdout, &out.stderr))
    }
}

/// Lines of both streams (each `<RFC 3339 time> <text>`) merged by time; a stable sort keeps a
/// stream's own order where times tie. Times are compared with their fraction padded to
/// nanoseconds: docker trims trailing zeros, down to none at all on a whole second.
fn in_time_order(stdout: &str, stderr: &str) -> Vec<String> {
    let mut lines: Vec<(String, String)> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (t, text) = l.split_once(' ').unwrap_or((l, ""));
            (sortable(t), text.to_string())
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    lines.into_iter().map(|(_, text)| text).collect()
}

fn sortable(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (base, frac) = t.split_once('.').unwrap_or((t, ""));
    // Offsets other than Z do not occur here (both engines log in UTC); keep them out of the digits.
    let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
    format!("{base}.{digits:0<9}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_streams_merge_in_time_order() {
        let stdout = "2026-12-07T14:03:10.9407Z level=info msg=\"Starting up\"\n2026-12-07T14:03:12Z last out\n";
        let stderr = "2026-12-07T14:03:11.5Z failed to start daemon: pid file found\n";
        assert_eq!(
            in_time_order(stdout, stderr),
            ["level=info msg=\"Starting up\"", "failed to start daemon: pid file found", "last out"]
        );
    }

    #[test]
    fn fractions_compare_as_nanoseconds() {
        // As plain strings a whole second ("…10Z") would sort after its own fractions ("…10.5Z").
        assert!(sortable("2026-12-07T14:03:10Z") < sortable("2026-12-07T14:03:10.5Z"));
        assert!(sortable("2026-12-07T14:03:10.95Z") > sortable("2026-12-07T14:03:10.9407Z"));
        assert!(sortable("2026-12-07T14:03:11Z") > sortable("2026-12-07T14:03:10.999999999Z"));
    }
}
