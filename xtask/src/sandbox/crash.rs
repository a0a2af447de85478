//! A crash on purpose (the `kill` action of a scenario): SIGKILL to a service's main process, as
//! an OOM kill, a segfault or `kill -9` would end it, and then what the sandbox promises — the
//! engine's restart policy brings it back by itself, and the stack is ready again — observed and
//! told, with what the service logged on its way back (InnoDB's crash recovery, for the DB).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use xshell::Shell;

use super::{readiness, repair, Sandbox};

/// How long a killed service may take to be running again by itself.
pub const BACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a killed service may stay stopped before its restart policy is taken to have failed.
const STOPPED_FOR: Duration = Duration::from_secs(3);
/// Log lines shown after a kill: enough for MariaDB's whole recovery and start.
const SHOWN_LINES: usize = 40;

/// What happened after one kill.
#[derive(Debug)]
pub struct Recovery {
    pub service: String,
    pub pid: i64,
    /// The engine restarted it (restart count up, running) after this long.
    pub back: Duration,
    /// Every service of the stack answered its probe after this long.
    pub ready: Duration,
    pub restarts: u64,
    /// What the service logged from the kill on.
    pub log: Vec<String>,
}

impl Recovery {
    /// What the service logged on its way back, then what happened (last, where a report's
    /// output tail keeps it).
    pub fn report(&self) -> String {
        let mut s = String::new();
        if !self.log.is_empty() {
            s.push_str(&format!("{}'s log since the kill:\n", self.service));
            for l in self.log.iter().take(SHOWN_LINES) {
                s.push_str(&format!("  {l}\n"));
            }
            if self.log.len() > SHOWN_LINES {
                s.push_str(&format!("  … {} more lines (`logs {}`)\n", self.log.len() - SHOWN_LINES, self.service));
            }
        }
        s.push_str(&format!(
            "killed {} (SIGKILL to its main process, pid {})\nthe engine restarted it by itself after {:.1} s (restart {}); the whole stack was ready again after {:.1} s\n",
            self.service,
            self.pid,
            self.back.as_secs_f64(),
            self.restarts,
            self.ready.as_secs_f64()
        ));
        s
    }
}

/// Kills `service` and waits until the engine has brought it back by itself and the whole stack
/// is ready again. Fails, naming the wedge, if it does not come back by itself.
pub fn kill_and_wait(sh: &Shell, sb: &Sandbox, service: &str) -> Result<Recovery> {
    let container = sb.container(service);
    let before = sb.engine.container(sh, &container)?;
    let count = before.as_ref().map(|c| c.restart_count).unwrap_or(0);
    let since = now_precise();
    let killed_at = Instant::now();
    let pid = sb.engine.kill_main_process(sh, &container)?;
    let mut watch = repair::Watch::default();
    let mut stopped_since: Option<Instant> = None;
    let restarts = loop {
        let Some(c) = sb.engine.container(sh, &container)? else { bail!("{container} is gone after the kill") };
        if back_after_kill(&c, count) {
            break c.restart_count;
        }
        // A loop ends the wait at once; a plain stop only once it lasts (an engine may show
        // `exited` for a moment before its restart policy acts).
        let now = Instant::now();
        // A loop counts only the restarts after this kill: the run this kill ended was short if
        // an earlier kill was seconds ago (the crash scenario, then the bench's stack kill), and
        // that is no loop of the service's own.
        let looping = |w: &repair::Wedge| w.looping && c.restart_count >= count + repair::LOOP_RESTARTS;
        let wedge = watch.observe(service, &c, now).filter(looping).or_else(|| {
            let w = repair::stopped(service, &c)?;
            (now.duration_since(*stopped_since.get_or_insert(now)) >= STOPPED_FOR).then_some(w)
        });
        if repair::stopped(service, &c).is_none() {
            stopped_since = None;
        }
        if let Some(w) = wedge {
            bail!("{w}: it did not come back by itself after the kill; `cargo xtask sandbox up` recreates it");
        }
        if killed_at.elapsed() > BACK_TIMEOUT {
            bail!(
                "{service} was not running again {} s after the kill: its restart policy did not bring it back; `cargo xtask sandbox up` recreates it",
                BACK_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let back = killed_at.elapsed();
    readiness::wait_stack_ready(sh, sb)?;
    let ready = killed_at.elapsed();
    let log = sb.engine.log_lines(sh, &container, Some(&since), None).unwrap_or_default();
    Ok(Recovery { service: service.to_string(), pid, back, ready, restarts, log })
}

/// Whether a container killed when its restart count was `count` has been started again by its
/// restart policy, and runs: what `kill_and_wait` and the bench's plain kill both wait for.
pub fn back_after_kill(c: &crate::engine::ContainerState, count: u64) -> bool {
    c.running && !c.restarting && c.restart_count > count
}

/// Now, RFC 3339 with nanoseconds: `logs --since` at second precision would show lines from
/// before the kill.
fn now_precise() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
