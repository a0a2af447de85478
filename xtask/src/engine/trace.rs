//! `TRUST_SANDBOX_TRACE_ENGINE=1`: every engine call on stderr, when it started (seconds since the
//! first call) and how long it took. What `up` and `down` spend before and between the starts is
//! mostly engine calls (0.1–0.4 s each on podman 4.3), and this is how to count them. Secret
//! values never show: they reach the engine through its environment, not its argv.

use std::sync::OnceLock;
use std::time::Instant;

pub const ENV: &str = "TRUST_SANDBOX_TRACE_ENGINE";

fn origin() -> Option<Instant> {
    static ORIGIN: OnceLock<Option<Instant>> = OnceLock::new();
    *ORIGIN.get_or_init(|| std::env::var_os(ENV).filter(|v| !v.is_empty() && v != "0").map(|_| Instant::now()))
}

/// The moment a call starts, if tracing is on.
pub fn start() -> Option<Instant> {
    origin().map(|_| Instant::now())
}

/// Prints one finished call (a no-op when tracing is off).
pub fn done(started: Option<Instant>, bin: &str, args: &[impl AsRef<std::ffi::OsStr>]) {
    let (Some(t), Some(origin)) = (started, origin()) else { return };
    let argv: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    eprintln!(
        "engine +{:.3} s {:.3} s  {bin} {}",
        t.duration_since(origin).as_secs_f64(),
        t.elapsed().as_secs_f64(),
        argv.join(" ")
    );
}
