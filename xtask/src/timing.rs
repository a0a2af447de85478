//! Where one command's time went: phases recorded as they end (setup's apt, the base and each
//! image, loading them, starting the services, the guide), printed as a breakdown at the end of
//! `setup` and `play`, and read back by `bench --cold-build` for its per-image figures. Only
//! what runs inside this program is measured: cargo's build of it ran before it started.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub secs: f64,
}

static PHASES: Mutex<Vec<Phase>> = Mutex::new(Vec::new());

/// Records that `name` took `secs` (phases may run at the same time, like two image builds).
pub fn record(name: impl Into<String>, secs: f64) {
    PHASES.lock().expect("not poisoned").push(Phase { name: name.into(), secs });
}

/// Every phase recorded so far, in the order they ended.
pub fn phases() -> Vec<Phase> {
    PHASES.lock().expect("not poisoned").clone()
}

/// Runs `f` and records its time under `name`, whether it succeeded or not.
pub fn timed<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let t = std::time::Instant::now();
    let out = f();
    record(name, t.elapsed().as_secs_f64());
    out
}

/// `apt 12.3 s, base 8.1 s, image client 7.2 s`: one line, in the order recorded.
pub fn line(phases: &[Phase]) -> String {
    phases.iter().map(|p| format!("{} {:.1} s", p.name, p.secs)).collect::<Vec<_>>().join(", ")
}

/// What `setup` measured, kept for the `play` that follows it (a fresh machine runs them in a row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupRecord {
    pub finished_at: String,
    pub phases: Vec<Phase>,
}

/// The file (in the project's cache) that keeps `setup`'s breakdown for `play`.
pub const SETUP_RECORD: &str = "setup-timing.json";

/// Prints `setup`'s breakdown (its phases overlap: the images build while apt installs the
/// engine, hence the total) and keeps it in `path` for `play`.
pub fn finish_setup(total_secs: f64, path: &std::path::Path) {
    record("setup in all", total_secs);
    let phases = phases();
    crate::ui::info(
        "Took",
        format!("setup: {} (cargo's build of this program ran before it: not measured)", line_or_nothing(&phases)),
    );
    let record = SetupRecord { finished_at: crate::util::now_rfc3339(), phases };
    let written = serde_json::to_vec_pretty(&record).map_err(anyhow::Error::from).and_then(|bytes| {
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        crate::util::write_mode(path, &bytes, 0o644)
    });
    if let Err(e) = written {
        crate::ui::warn(format!("keeping setup's timing in {}: {e:#}", path.display()));
    }
}

/// Prints `play`'s breakdown (and the last `setup`'s, kept in `setup_record`, which a fresh
/// machine ran just before).
pub fn finish_play(total_secs: f64, setup_record: &std::path::Path) {
    let setup = std::fs::read(setup_record).ok().and_then(|b| serde_json::from_slice::<SetupRecord>(&b).ok());
    if let Some(s) = setup {
        crate::ui::info("Took", format!("setup (finished {}): {}", s.finished_at, line_or_nothing(&s.phases)));
    }
    let phases = phases();
    crate::ui::info(
        "Took",
        format!(
            "play: {}; {total_secs:.1} s in all (cargo's build of this program ran before it: not measured)",
            line_or_nothing(&phases)
        ),
    );
}

fn line_or_nothing(phases: &[Phase]) -> String {
    if phases.is_empty() {
        "nothing to do".into()
    } else {
        line(phases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_back_in_order_as_one_line() {
        let phases = vec![Phase { name: "apt".into(), secs: 12.34 }, Phase { name: "image client".into(), secs: 7.0 }];
        assert_eq!(line(&phases), "apt 12.3 s, image client 7.0 s");
        let n = timed("unit-test phase", || 41 + 1);
        assert_eq!(n, 42);
        assert!(super::phases().iter().any(|p| p.name == "unit-test phase"));
    }
}
