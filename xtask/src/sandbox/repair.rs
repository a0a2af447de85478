//! Wedged services. A container the engine will not bring back by itself (exited, dead, created),
//! or one it keeps restarting while it keeps dying (a restart loop), is recognised from `inspect`
//! JSON. `up` recreates it from its image — its volumes and the state directory untouched — and
//! says which and why (the last line of its log); `status` and `doctor` name it with the fix.
//!
//! A restart loop shows differently on each engine (measured with a client that found its own
//! stale pid file): docker backs off between restarts and reports `restarting` meanwhile (with
//! `Running` still true), 100 ms after the first crash and doubling from there; podman 4.3
//! restarts at once, about three times a second, passing through `stopped`. So a container is
//! looping when, while `up` waits for it, its restart count rises twice, or it stays between two
//! runs for longer than a single crash takes to be restarted.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Result;
use xshell::Shell;

use super::Sandbox;
use crate::engine::ContainerState;

/// Longer than the engine takes to restart a service after one crash (docker's first back-off is
/// 100 ms, podman does not wait), shorter than anyone would wait for a service that cannot start.
const BETWEEN_RUNS: Duration = Duration::from_secs(3);
/// Restarts seen during one wait that make it a loop rather than one crash.
pub const LOOP_RESTARTS: u64 = 2;
/// A run shorter than this, ended by a crash, does not count as having started: docker grows its
/// back-off for such runs (it resets it after 10 s), and so does this.
const SHORT_RUN: Duration = Duration::from_secs(10);

/// Why a service will not come back by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wedge {
    pub service: String,
    /// The engine's word for its state (`exited`, `dead`, `restarting`, …).
    pub status: String,
    pub restarts: u64,
    pub exit_code: i64,
    /// The engine keeps restarting it and it keeps dying.
    pub looping: bool,
    /// The engine says it runs, but its process is gone.
    pub gone: bool,
    /// What the readiness probe last said, when a wait found the wedge.
    pub probe_error: Option<String>,
}

impl fmt::Display for Wedge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // podman reports 0 while the next run is up; only a real exit code says something.
        let code = (self.exit_code != 0).then(|| format!("exit code {}", self.exit_code));
        if self.looping {
            let code = code.map(|c| format!(", {c}")).unwrap_or_default();
            write!(f, "{} is restarting in a loop ({} restarts{code})", self.service, self.restarts)?;
        } else if self.gone {
            write!(f, "{} is {} by the engine's account, but its process is gone", self.service, self.status)?;
        } else {
            let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
            write!(f, "{} is {}{code}", self.service, self.status)?;
        }
        match &self.probe_error {
            Some(e) => write!(f, "; last probe error: {e}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Wedge {}

impl Wedge {
    fn of(service: &str, c: &ContainerState, looping: bool) -> Wedge {
        Wedge {
            service: service.to_string(),
            status: c.status.clone(),
            restarts: c.restart_count,
            exit_code: c.exit_code,
            looping,
            gone: c.process_gone,
            probe_error: None,
        }
    }

    /// One word for `status`'s STATE column.
    pub fn state(&self) -> &str {
        match (self.looping, self.gone) {
            (true, _) => "looping",
            (_, true) => "gone",
            _ => &self.status,
        }
    }

    /// What to do about it, for `status` and `doctor`.
    pub fn fix(&self, sb: &Sandbox) -> String {
        format!(
            "`cargo xtask sandbox{} up` recreates it from its image, keeping its volumes and the sandbox's state",
            name_flag(&sb.name)
        )
    }
}

fn name_flag(name: &str) -> String {
    if name == super::DEFAULT_NAME {
        String::new()
    } else {
        format!(" --name {name}")
    }
}

/// Is the engine between two runs of it under its restart policy? Docker says `restarting`;
/// podman 4.3 says `stopped` until its restart policy has started it again.
pub fn between_runs(c: &ContainerState) -> bool {
    c.restarting || c.status == "stopped"
}

/// A container no restart policy will start again: neither running nor between two runs, or
/// "running" with its process gone (then nothing will ever restart it).
pub fn stopped(service: &str, c: &ContainerState) -> Option<Wedge> {
    (c.process_gone || (!c.running && !between_runs(c))).then(|| Wedge::of(service, c, false))
}

/// Watches one container while `up` waits for it to be ready: the first wedge it sees ends the
/// wait at once (not after the readiness timeout).
#[derive(Debug, Default)]
pub struct Watch {
    first_count: Option<u64>,
    between_since: Option<Instant>,
}

impl Watch {
    /// `None` while the container may still come up by itself.
    pub fn observe(&mut self, service: &str, c: &ContainerState, now: Instant) -> Option<Wedge> {
        let first = *self.first_count.get_or_insert(c.restart_count);
        if c.restart_count >= first + LOOP_RESTARTS {
            return Some(Wedge::of(service, c, true));
        }
        // Between runs after restarts whose last one ended within seconds of its start: the
        // engine will back off and try again, and the next run will end the same way.
        if between_runs(c) && c.restart_count >= LOOP_RESTARTS && c.last_run().is_some_and(|d| d < SHORT_RUN) {
            return Some(Wedge::of(service, c, true));
        }
        if between_runs(c) {
            let since = *self.between_since.get_or_insert(now);
            if now.duration_since(since) >= BETWEEN_RUNS {
                return Some(Wedge::of(service, c, c.restart_count > 0));
            }
            return None;
        }
        self.between_since = None;
        stopped(service, c)
    }
}

/// Why the service died, as its log says: from what it logged before its last run ended (a
/// looping service is already logging its next start), else from its whole log.
pub fn last_log_line(sh: &Shell, sb: &Sandbox, service: &str) -> String {
    let container = sb.container(service);
    let ended = sb.engine.container(sh, &container).ok().flatten().map(|c| c.finished_at).filter(|t| ended(t));
    let lines = sb.engine.log_lines(sh, &container, None, ended.as_deref()).unwrap_or_default();
    why_it_ended(&lines).unwrap_or("(its log is empty)").to_string()
}

/// How many of the last lines are searched for an error before the very last line is taken.
const WHY_WINDOW: usize = 20;

/// The last line among the last few that reports an error (logrus' `level=fatal`/`error`,
/// MariaDB's `[ERROR]`, a Go program's `failed …`/`Error …` on exit), else the last line: a process that fails often logs its shutdown after
/// the reason (dockerd: `failed to start daemon: … invalid database`, then containerd's
/// `stopping event stream following graceful shutdown`, in either order).
fn why_it_ended(lines: &[String]) -> Option<&str> {
    let recent: Vec<&str> = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).rev().take(WHY_WINDOW).collect();
    let error = |l: &str| {
        ["level=fatal", "level=error", "[ERROR]"].iter().any(|m| l.contains(m))
            || ["failed", "Error", "error", "fatal"].iter().any(|p| l.starts_with(p))
    };
    recent.iter().copied().find(|l| error(l)).or(recent.first().copied())
}

/// Whether an inspect time says something ended (the zero time `0001-01-01…` says it never did).
fn ended(t: &str) -> bool {
    !t.is_empty() && !t.starts_with("0001-")
}

/// `up`'s one line about a service it recreates: which, why, and what it last said.
pub fn announce(sh: &Shell, sb: &Sandbox, wedge: &Wedge) {
    let line = last_log_line(sh, sb, &wedge.service);
    let wedge = Wedge { probe_error: None, ..wedge.clone() };
    crate::ui::status(
        "Repairing",
        format!("{wedge}: recreating it from its image (volumes and state kept); its log ends: {line}"),
    );
}

/// The wedge behind a failed wait, if a wedge was what failed it.
pub fn wedge_of(err: &anyhow::Error) -> Option<&Wedge> {
    err.chain().find_map(|e| e.downcast_ref::<Wedge>())
}

/// Every wedged service among `found` (services that failed their probe), for `status` and
/// `doctor`: a stopped one at once; one that has restarted before is watched for as long as
/// `up` would take to call it a loop, and is looping if it died again meanwhile.
pub fn survey(sh: &Shell, sb: &Sandbox, found: &[ContainerState]) -> Result<Vec<Wedge>> {
    let mut wedged = Vec::new();
    let mut suspects: Vec<(String, u64, Watch)> = Vec::new();
    let start = Instant::now();
    for svc in &sb.spec.services {
        let Some(c) = found.iter().find(|c| c.name == sb.container(&svc.name)) else { continue };
        if let Some(w) = stopped(&svc.name, c) {
            wedged.push(w);
        } else if between_runs(c) || c.restart_count > 0 {
            let mut watch = Watch::default();
            watch.observe(&svc.name, c, start);
            // Between runs now: its next start is no new death.
            suspects.push((svc.name.clone(), c.restart_count + u64::from(between_runs(c)), watch));
        }
    }
    while !suspects.is_empty() && start.elapsed() < BETWEEN_RUNS + Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(250));
        let names: Vec<String> = suspects.iter().map(|(s, _, _)| sb.container(s)).collect();
        let again = sb.engine.inspect(sh, &names)?;
        let now = Instant::now();
        suspects.retain_mut(|(service, allowed, watch)| {
            let Some(c) = again.iter().find(|c| c.name == sb.container(service)) else { return false };
            let verdict = watch.observe(service, c, now).or_else(|| {
                // Died again while it was not answering.
                (c.restart_count > *allowed).then(|| Wedge::of(service, c, true))
            });
            match verdict {
                Some(w) => {
                    wedged.push(w);
                    false
                }
                None => true,
            }
        });
    }
    Ok(wedged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_that_says_why_comes_before_the_shutdown_noise() {
        let lines: Vec<String> = [
            "time=\"…\" level=warning msg=\"could not change group /var/run/docker.sock\"",
            "failed to start daemon: error while opening volume store metadata database: invalid database",
            "time=\"…\" level=info msg=\"stopping event stream following graceful shutdown\" error=\"context canceled\"",
            "",
        ]
        .map(String::from)
        .to_vec();
        let why = "failed to start daemon: error while opening volume store metadata database: invalid database";
        assert_eq!(why_it_ended(&lines), Some(why));
        let logrus = [lines[0].clone(), "time=\"…\" level=fatal msg=\"invalid database\"".into(), lines[2].clone()];
        assert_eq!(why_it_ended(&logrus), Some("time=\"…\" level=fatal msg=\"invalid database\""));
        let quiet: Vec<String> = ["starting", "listening on :7899", "  "].map(String::from).to_vec();
        assert_eq!(why_it_ended(&quiet), Some("listening on :7899"), "no error: the last line");
        assert_eq!(why_it_ended(&[]), None);
        assert_eq!(why_it_ended(&["".to_string()]), None);
    }

    fn c(status: &str, running: bool, restarting: bool, count: u64) -> ContainerState {
        ContainerState {
            name: "ts-client".into(),
            status: status.into(),
            running,
            restarting,
            restart_count: count,
            exit_code: 1,
            ..Default::default()
        }
    }

    #[test]
    fn exited_and_dead_are_wedged_at_once_running_and_restarting_are_not() {
        assert_eq!(stopped("client", &c("exited", false, false, 0)).unwrap().status, "exited");
        assert!(stopped("client", &c("dead", false, false, 3)).is_some());
        assert!(stopped("client", &c("created", false, false, 0)).is_some());
        assert!(stopped("client", &c("running", true, false, 5)).is_none());
        assert!(stopped("client", &c("restarting", true, true, 1)).is_none(), "docker, between two runs");
        assert!(stopped("client", &c("stopped", false, false, 1)).is_none(), "podman, between two runs");
        let gone = ContainerState { process_gone: true, exit_code: 0, ..c("running", true, false, 0) };
        assert_eq!(
            stopped("db", &gone).unwrap().to_string(),
            "db is running by the engine's account, but its process is gone"
        );
    }

    #[test]
    fn one_crash_is_not_a_loop() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert_eq!(w.observe("db", &c("running", true, false, 4), t0), None);
        assert_eq!(w.observe("db", &c("restarting", true, true, 4), t0 + Duration::from_millis(50)), None);
        assert_eq!(w.observe("db", &c("running", true, false, 5), t0 + Duration::from_millis(200)), None);
        // Back between runs later: the clock starts again.
        assert_eq!(w.observe("db", &c("stopped", false, false, 5), t0 + Duration::from_secs(10)), None);
        assert_eq!(w.observe("db", &c("running", true, false, 5), t0 + Duration::from_millis(10_100)), None);
    }

    #[test]
    fn between_runs_after_short_runs_is_a_loop_at_first_sight() {
        let mut looping = c("restarting", true, true, 4);
        looping.started_at = "2026-12-07T15:43:57.968743436Z".into();
        looping.finished_at = "2026-12-07T15:43:58.301Z".into();
        let wedge = Watch::default().observe("client", &looping, Instant::now()).unwrap();
        assert!(wedge.looping, "{wedge}");
        // The same after a long run is one crash: wait for the restart.
        let mut once = looping.clone();
        once.started_at = "2026-12-07T14:00:00Z".into();
        assert_eq!(Watch::default().observe("db", &once, Instant::now()), None);
        // A run under way (started after the last end) is not judged by its predecessor.
        let mut running = looping.clone();
        (running.running, running.restarting, running.status) = (true, false, "running".into());
        running.started_at = "2026-12-07T15:44:00Z".into();
        assert_eq!(running.last_run(), None);
    }

    #[test]
    fn podman_style_loop_is_two_restarts_during_the_wait() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert_eq!(w.observe("client", &c("running", true, false, 187), t0), None);
        assert_eq!(w.observe("client", &c("stopped", false, false, 188), t0 + Duration::from_millis(300)), None);
        let wedge = w.observe("client", &c("running", true, false, 189), t0 + Duration::from_millis(600)).unwrap();
        assert!(wedge.looping);
        assert_eq!(wedge.to_string(), "client is restarting in a loop (189 restarts, exit code 1)");
        let exited = Wedge { exit_code: 0, ..Wedge::of("registry", &c("exited", false, false, 0), false) };
        assert_eq!(exited.to_string(), "registry is exited");
        assert_eq!(Wedge::of("db", &c("dead", false, false, 0), false).to_string(), "db is dead (exit code 1)");
    }

    #[test]
    fn docker_style_loop_is_a_long_back_off() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert_eq!(w.observe("client", &c("restarting", true, true, 6), t0), None);
        assert_eq!(w.observe("client", &c("restarting", true, true, 6), t0 + Duration::from_secs(2)), None);
        let wedge = w.observe("client", &c("restarting", true, true, 6), t0 + BETWEEN_RUNS).unwrap();
        assert!(wedge.looping, "{wedge}");
    }

    #[test]
    fn a_wedge_survives_anyhow_context() {
        let wedge = Wedge::of("client", &c("exited", false, false, 0), false);
        let err = anyhow::Error::new(wedge.clone()).context("waiting for client");
        assert_eq!(wedge_of(&err), Some(&wedge));
        assert_eq!(wedge_of(&anyhow::anyhow!("plain")), None);
    }
}
