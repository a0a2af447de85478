//! A step: one command in a sandbox container, the way scenarios, `migrate` and `compare` run
//! theirs — with a time limit, live output, its secrets masked (`mask`) and, when asked, a
//! shifted clock (`clock`). It sits below both the scenarios and the move off DCT, which use it
//! alike.
//!
//! The step runs through `<engine> exec` with a marker variable (`TRUST_SANDBOX_STEP=<random>`) in
//! its environment, which every process it starts inherits. At the time limit, or once a signal
//! ended the run (`crate::signals`: SIGINT, SIGTERM, SIGHUP), the processes carrying the marker
//! are killed from the host: the engine runs on this machine, so they are in the host's /proc.
//! Killing only the `exec` client would leave them running in the container, so a signal stops
//! a `migrate` or `compare` command the same way as a scenario step. The output of a step that
//! runs longer than [`STREAM_AFTER`] streams (masked) as it comes; a quick step's output is only
//! shown by the scenario runner.

pub mod clock;
pub mod mask;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::engine::{Engine, Output};
use mask::Masker;

/// A step still running after this long streams its output.
pub const STREAM_AFTER: Duration = Duration::from_secs(3);
const MARKER_VAR: &str = "TRUST_SANDBOX_STEP";
/// For commands with no time limit of their own (`migrate`, `compare`): only a signal stops them.
pub const NO_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// Linux's MAX_ARG_STRLEN (32 pages) less the terminating NUL: the most one argument can carry.
const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

/// One command in a container: `sh -c script sh args…` with `env` (values through this process's
/// environment only, never the engine's argv).
pub struct Step<'a> {
    pub container: &'a str,
    pub script: &'a str,
    pub args: &'a [&'a str],
    pub env: &'a [(String, String)],
}

/// A step stopped from the host: at its time limit, or because a signal ended the run.
#[derive(Debug)]
pub struct Stopped {
    /// `interrupted by SIGTERM: killed the step's 2 process(es) in <container>`.
    pub what: String,
    pub by_signal: bool,
    /// The last lines it printed.
    pub tail: String,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; last output: {}", self.what, self.tail)
    }
}

impl std::error::Error for Stopped {}

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

/// Runs `engine exec … container sh -c script sh args…`, killing the step's processes at `limit`
/// or when a signal ended the run (the error is then a [`Stopped`]).
pub fn run(engine: &Engine, step: &Step<'_>, limit: Duration, masker: &Masker, stream: bool) -> Result<Output> {
    let Step { container, script, args, env } = *step;
    if script.len() > MAX_ARG_BYTES {
        anyhow::bail!(
            "the step's script is {} bytes once its placeholders are filled in; it reaches {container} as one command-line argument, which Linux limits to {MAX_ARG_BYTES} bytes",
            script.len()
        );
    }
    let marker = format!("{MARKER_VAR}={}", crate::util::random_hex(8)?);
    let (_, value) = marker.split_once('=').expect("marker has a value");
    let mut all_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all_env.push((MARKER_VAR, value));
    let mut argv = vec!["sh", "-c", script];
    if !args.is_empty() {
        argv.push("sh");
        argv.extend_from_slice(args);
    }
    let started = Instant::now();
    // In a process group of its own: a Ctrl-C at the terminal reaches this tool, which kills the
    // step in the container, instead of only the exec client.
    let mut child = engine.spawn_exec(container, &argv, &all_env).with_context(|| format!("exec in {container}"))?;
    let shared = Arc::new(Mutex::new(Stream { started, masker: masker.clone(), enabled: stream, pending: Vec::new() }));
    let out = reader(child.stdout.take().expect("piped"), shared.clone());
    let err = reader(child.stderr.take().expect("piped"), shared);
    let mut stopped: Option<(String, bool)> = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let why = if let Some(sig) = crate::signals::caught() {
            Some((format!("interrupted by {sig}"), true))
        } else if started.elapsed() >= limit {
            Some((format!("timed out after {} s", limit.as_secs()), false))
        } else {
            None
        };
        if let Some((why, by_signal)) = why {
            let mut killed = kill_marked(&marker);
            // The exec client ends with its command; if it does not, it goes too. A command the
            // engine started only after the first look (an exec takes ~0.1 s to start it, and a
            // signal can land in between: the migrate e2e caught one surviving) is killed by a
            // later look; the wait ends once the client has ended and a look finds nothing.
            // After a signal the person (or CI) is waiting for the tool to end: a shorter wait.
            let grace = Instant::now();
            let wait = if by_signal { Duration::from_secs(2) } else { Duration::from_secs(5) };
            loop {
                let ended = child.try_wait()?.is_some();
                let late = kill_marked(&marker);
                killed += late;
                if (ended && late == 0) || grace.elapsed() >= wait {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            stopped = Some((format!("{why}: killed the step's {killed} process(es) in {container}"), by_signal));
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    if let Some((what, by_signal)) = stopped {
        let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let tail = if tail.is_empty() { "(none)".to_string() } else { masker.mask(&tail.join(" | ")) };
        return Err(Stopped { what, by_signal, tail }.into());
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
