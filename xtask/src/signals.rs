//! The signals that end a run, caught by the commands that must clean up before they go: scenario
//! runs (`scenario run`, `play`), `migrate` and `compare`. SIGINT (Ctrl-C, once or again),
//! SIGTERM (CI cancelling a job, `kill`, a parent `timeout N`) and SIGHUP (a closed terminal) all
//! take the same way out: the first one is recorded, the work in progress stops at its next check
//! (a running step's processes are killed in their container), the cleanup runs, the reports so
//! far are written and marked, and the process exits with 128 + the signal's number, as a shell
//! reports a death by that signal. A repeated signal does not cut the cleanup short (that is how
//! steps used to be left running); it only says that the cleanup is under way.
//!
//! `ctrlc` knows SIGINT alone, or all three without telling which one came; `signal-hook` says
//! which, so the message and the exit code name the real cause. Other commands keep the default
//! actions: they have nothing to clean up that the next `up` or `down` would not.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

use anyhow::{bail, Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The first signal caught (0: none).
static CAUGHT: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();
/// What the run does once a signal came, said when it comes (set by the last `catch`).
static STOPPING: Mutex<String> = Mutex::new(String::new());

/// A signal that asked the run to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caught(i32);

impl Caught {
    pub fn name(self) -> &'static str {
        match self.0 {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            _ => "a signal",
        }
    }

    /// 128 + the signal's number: 130, 143, 129.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(u8::MAX)
    }
}

impl std::fmt::Display for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// From now on SIGINT, SIGTERM and SIGHUP are recorded instead of ending the process; `stopping`
/// says what the run does then (`killing the running step's processes, …`).
pub fn catch(stopping: &str) -> Result<()> {
    *STOPPING.lock().unwrap_or_else(|e| e.into_inner()) = stopping.to_string();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = install();
    });
    result
}

fn install() -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing the handlers for SIGINT, SIGTERM and SIGHUP")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let caught = Caught(sig);
                let first = CAUGHT.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                let stopping = STOPPING.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match first {
                    Ok(_) => crate::ui::warn(format!("caught {caught}: stopping: {stopping}")),
                    Err(prev) => crate::ui::warn(format!(
                        "caught {caught} again: the cleanup after {} is under way and ends by itself ({stopping})",
                        Caught(prev)
                    )),
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// The first signal caught since `catch`, if any.
pub fn caught() -> Option<Caught> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Caught(n)),
    }
}

/// An error once a signal came: for loops that wait (readiness, a scenario's containers) so that
/// a run stops at its next check instead of after the wait.
pub fn check() -> Result<()> {
    if let Some(sig) = caught() {
        bail!("interrupted by {sig}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn names_and_exit_codes_are_a_shells() {
        assert_eq!((Caught(SIGINT).name(), Caught(SIGINT).exit_code()), ("SIGINT", 130));
        assert_eq!((Caught(SIGTERM).name(), Caught(SIGTERM).exit_code()), ("SIGTERM", 143));
        assert_eq!((Caught(SIGHUP).name(), Caught(SIGHUP).exit_code()), ("SIGHUP", 129));
    }

    /// The handlers are process-wide, so the signals are sent to a child: this test binary again,
    /// running only `child_catches_each_signal_once_and_keeps_going` below.
    #[test]
    fn a_caught_signal_is_recorded_and_the_process_goes_on() {
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")] {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "signals::tests::child_catches_each_signal_once_and_keeps_going", "--nocapture"])
                .env("TS_SIGNAL_CHILD", sig.to_string())
                .output()
                .unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{name}: the child died instead of recording it:\n{text}");
            assert!(text.contains(&format!("recorded {name}, twice sent")), "{name}:\n{text}");
            assert!(text.contains(&format!("caught {name}: stopping: testing")), "{name}:\n{text}");
            assert!(text.contains("again: the cleanup after"), "{name}: the second one is acknowledged:\n{text}");
        }
    }

    #[test]
    fn child_catches_each_signal_once_and_keeps_going() {
        let Some(sig) = std::env::var("TS_SIGNAL_CHILD").ok().and_then(|s| s.parse::<i32>().ok()) else {
            return; // only meaningful as the child of the test above
        };
        catch("testing").unwrap();
        assert!(check().is_ok());
        for _ in 0..2 {
            signal_hook::low_level::raise(sig).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while caught().is_none() {
                assert!(std::time::Instant::now() < deadline, "never recorded");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        // The thread prints the second acknowledgement after the signal is delivered.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(caught().map(|c| c.0), Some(sig), "the first signal stays the cause");
        assert!(check().unwrap_err().to_string().starts_with("interrupted by"));
        println!("recorded {}, twice sent", caught().unwrap());
    }
}
