//! One scenario step's command in its container, with a time limit and live output.
//!
//! The step runs through `<engine> exec` with a marker variable (`TRUST_SANDBOX_STEP=<random>`) in
//! its environment, which every process it starts inherits. At the time limit (or on Ctrl-C) the
//! processes carrying the marker are killed from the host: the engine runs on this machine, so
//! they are in the host's /proc. Killing only the `exec` client would leave them running in the
//! container. The output of a step that runs longer than [`STREAM_AFTER`] streams (masked) as it
//! comes; a quick step's output is only shown by the runner, as before.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::mask::Masker;
use crate::engine::{Engine, Output};

/// A step still running after this long streams its output.
pub const STREAM_AFTER: Duration = Duration::from_secs(3);
const MARKER_VAR: &str = "TRUST_SANDBOX_STEP";

/// Set by the Ctrl-C handler: the running step is killed like at its time limit.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Where streamed lines go, masked, each under `    │ `.
struct Stream {
    started: Instant,
    masker: Masker,
    enabled: bool,
    /// Lines of both pipes not yet printed (before STREAM_AFTER nothing is).
    pending: Vec<String>,
}

impl Stream {
    fn line(&mut self, line: String) {
        self.pending.push(line);
        if self.enabled && self.started.elapsed() >= STREAM_AFTER {
            let mut err = std::io::stderr().lock();
            for l in self.pending.drain(..) {
                let _ = writeln!(err, "    │ {}", self.masker.mask(&l));
            }
        }
    }
}

fn reader(pipe: impl Read + Send + 'static, stream: Arc<Mutex<Stream>>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut r = BufReader::new(pipe);
        let mut buf = Vec::new();
        while r.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
            let text = String::from_utf8_lossy(&buf).into_owned();
            all.push_str(&text);
            stream.lock().unwrap_or_else(|e| e.into_inner()).line(text.trim_end_matches('\n').to_string());
            buf.clear();
        }
        all
    })
}

/// Runs `engine exec … container sh -c script` with `env` (values through this process's
/// environment only), killing the step's processes at `limit`.
pub fn run(
    engine: &Engine,
    container: &str,
    script: &str,
    env: &[(String, String)],
    limit: Duration,
    masker: &Masker,
    stream: bool,
) -> Result<Output> {
    let marker = format!("{MARKER_VAR}={}", crate::util::random_hex(8)?);
    let (_, value) = marker.split_once('=').expect("marker has a value");
    let mut all_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all_env.push((MARKER_VAR, value));
    let started = Instant::now();
    // In a process group of its own: a Ctrl-C at the terminal reaches this tool, which kills the
    // step in the container, instead of only the exec client.
    let mut child = engine
        .spawn_exec(container, &["sh", "-c", script], &all_env)
        .with_context(|| format!("exec in {container}"))?;
    let shared = Arc::new(Mutex::new(Stream { started, masker: masker.clone(), enabled: stream, pending: Vec::new() }));
    let out = reader(child.stdout.take().expect("piped"), shared.clone());
    let err = reader(child.stderr.take().expect("piped"), shared);
    let mut stopped: Option<String> = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let why = if INTERRUPTED.load(Ordering::SeqCst) {
            Some("interrupted (Ctrl-C)".to_string())
        } else if started.elapsed() >= limit {
            Some(format!("timed out after {} s", limit.as_secs()))
        } else {
            None
        };
        if let Some(why) = why {
            let killed = kill_marked(&marker);
            stopped = Some(format!("{why}; killed its {killed} process(es) in {container}"));
            // The exec client ends with its command; if it does not, it goes too.
            let grace = Instant::now();
            while child.try_wait()?.is_none() && grace.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    if let Some(what) = stopped {
        let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{what}; last output: {}", if tail.is_empty() { "(none)".to_string() } else { tail.join(" | ") });
    }
    Ok(Output::from_std(std::process::Output { status, stdout: stdout.into_bytes(), stderr: stderr.into_bytes() }))
}

/// Kills every process on this machine whose environment holds `marker` (`NAME=value`); returns
/// how many it found. Stopped first, then killed, so none can start a new child in between.
pub fn kill_marked(marker: &str) -> usize {
    let pids = marked(marker);
    for sig in ["-STOP", "-KILL"] {
        if !pids.is_empty() {
            let _ = Command::new("kill").arg(sig).args(&pids).stderr(Stdio::null()).status();
        }
    }
    pids.len()
}

fn marked(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().to_string();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == std::process::id().to_string() {
                return None;
            }
            let environ = std::fs::read(e.path().join("environ")).ok()?;
            environ.split(|&b| b == 0).any(|v| v == marker.as_bytes()).then_some(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_processes_and_only_they_are_killed() {
        let marker = format!("{MARKER_VAR}=unit-{}", std::process::id());
        let (k, v) = marker.split_once('=').unwrap();
        let mut marked_child = Command::new("sh").args(["-c", "sleep 1000 & wait"]).env(k, v).spawn().unwrap();
        let mut other = Command::new("sleep").arg("1000").spawn().unwrap();
        // Wait until the shell's child exists, so the whole tree is found.
        let deadline = Instant::now() + Duration::from_secs(10);
        while marked(&marker).len() < 2 {
            assert!(Instant::now() < deadline, "the marked processes never showed in /proc");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(kill_marked(&marker), 2, "the shell and its sleep");
        assert!(!marked_child.wait().unwrap().success());
        assert!(other.try_wait().unwrap().is_none(), "an unmarked process was killed");
        other.kill().unwrap();
        other.wait().unwrap();
        // SIGKILL is delivered, not awaited: the orphaned sleep may take a moment to be gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !marked(&marker).is_empty() {
            assert!(Instant::now() < deadline, "a killed marked process is still alive: {:?}", marked(&marker));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
