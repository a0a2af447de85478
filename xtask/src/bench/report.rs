//! The bench's figures: statistics of the samples, a row per measurement judged against its
//! target, the facts about the machine, and the table printed at the end.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Serialize;
use xshell::Shell;

use crate::engine::{Engine, EngineKind};
use crate::ui;

#[derive(Debug, Clone, Serialize)]
pub(super) struct Stats {
    pub(super) min: f64,
    pub(super) median: f64,
    pub(super) samples: Vec<f64>,
}

impl Stats {
    pub(super) fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
        Some(Stats { min: s[0], median, samples: samples.to_vec() })
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub(super) enum Goal {
    /// median(ours) / median(baseline) at most this.
    MaxRatio(f64),
    /// median(ours) at most this, in the row's unit.
    MaxValue(f64),
}

#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub(super) key: &'static str,
    pub(super) title: &'static str,
    pub(super) unit: &'static str,
    pub(super) ours: Option<Stats>,
    pub(super) baseline: Option<Stats>,
    pub(super) ratio: Option<f64>,
    pub(super) target: Goal,
    pub(super) met: Option<bool>,
    /// Set when the measurement failed; figures gathered before the failure are kept.
    pub(super) error: Option<String>,
    /// Per service (memory) or per image (cold build), medians.
    pub(super) detail: BTreeMap<String, f64>,
    pub(super) baseline_is: &'static str,
}

impl Row {
    pub(super) fn new(
        key: &'static str,
        title: &'static str,
        unit: &'static str,
        target: Goal,
        baseline_is: &'static str,
    ) -> Row {
        Row {
            key,
            title,
            unit,
            ours: None,
            baseline: None,
            ratio: None,
            target,
            met: None,
            error: None,
            detail: BTreeMap::new(),
            baseline_is,
        }
    }

    pub(super) fn set(&mut self, ours: &[f64], baseline: &[f64]) {
        self.ours = Stats::of(ours);
        self.baseline = Stats::of(baseline);
        self.ratio = match (&self.ours, &self.baseline) {
            (Some(o), Some(b)) if b.median > 0.0 => Some(o.median / b.median),
            _ => None,
        };
        self.met = match self.target {
            Goal::MaxRatio(max) => self.ratio.map(|r| r <= max),
            Goal::MaxValue(max) => self.ours.as_ref().map(|o| o.median <= max),
        };
    }

    pub(super) fn fail(&mut self, err: &anyhow::Error) {
        fail_rows(&mut [self], err);
    }
}

/// One cause, one warning, however many measurements it stops.
pub(super) fn fail_rows(rows: &mut [&mut Row], err: &anyhow::Error) {
    let titles: Vec<&str> = rows.iter().map(|r| r.title).collect();
    ui::warn(format!("bench {}: {err:#}", titles.join(", ")));
    for r in rows {
        r.error.get_or_insert_with(|| format!("{err:#}"));
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Facts {
    pub(super) started_at: String,
    pub(super) runs: usize,
    pub(super) nproc: usize,
    pub(super) cpu_model: String,
    pub(super) mem_total_mb: u64,
    pub(super) kernel: String,
    pub(super) engine: EngineKind,
    pub(super) engine_version: String,
    /// Every installed engine that answers, not just the one measured.
    pub(super) engine_versions: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) mmdebstrap: Option<String>,
    /// /proc/loadavg when the bench started and ended: the machine may be shared, and the
    /// ratios (same run) hold under load where the absolute figures do not.
    pub(super) loadavg_start: String,
    pub(super) loadavg_end: String,
}

/// The 1, 5 and 15 minute load averages.
pub(super) fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

impl Facts {
    pub(super) fn collect(
        sh: &Shell,
        engine: &Engine,
        runs: usize,
        (started_at, loadavg_start): (String, String),
        cold_build: bool,
    ) -> Facts {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_string();
        let mem_total_mb = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
            .unwrap_or(0);
        let mut engine_versions = BTreeMap::new();
        for kind in [EngineKind::Docker, EngineKind::Podman] {
            if let Ok(v) = Engine::detect(sh, Some(kind)).and_then(|e| e.server_version(sh)) {
                engine_versions.insert(kind.to_string(), v);
            }
        }
        let mmdebstrap = cold_build
            .then(|| Command::new("mmdebstrap").arg("--version").output().ok())
            .flatten()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        Facts {
            started_at,
            runs,
            nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu_model,
            mem_total_mb,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            engine: engine.kind,
            engine_version: engine.server_version(sh).unwrap_or_default(),
            engine_versions,
            mmdebstrap,
            loadavg_start,
            loadavg_end: loadavg(),
        }
    }
}

pub(super) fn figure(s: &Option<Stats>, unit: &str) -> String {
    match s {
        Some(s) if unit == "MB" => format!("{:.0} / {:.0} {unit}", s.min, s.median),
        Some(s) => format!("{:.2} / {:.2} {unit}", s.min, s.median),
        None => "-".into(),
    }
}

pub(super) fn render_table(rows: &[Row], facts: &Facts) -> String {
    let mut out = format!(
        "\ntrust-sandbox bench: {} {} on {} CPU(s), {} MB RAM, kernel {}; {} run(s), min / median; load average {} at the start, {} at the end\n\n",
        facts.engine,
        facts.engine_version,
        facts.nproc,
        facts.mem_total_mb,
        facts.kernel,
        facts.runs,
        facts.loadavg_start,
        facts.loadavg_end
    );
    out.push_str(&format!(
        "{:<24} {:>20} {:>20} {:>7}  {:<9} {}\n",
        "MEASUREMENT", "OURS", "BASELINE", "RATIO", "TARGET", "MET"
    ));
    for r in rows {
        let target = match r.target {
            Goal::MaxRatio(x) => format!("<= {x}x"),
            Goal::MaxValue(x) => format!("<= {x} {}", r.unit),
        };
        let met = match (r.met, &r.error) {
            (_, Some(_)) if r.ours.is_none() => "error",
            (Some(true), Some(_)) => "yes (partial)",
            (Some(false), Some(_)) => "no (partial)",
            (Some(true), None) => "yes",
            (Some(false), None) => "no",
            (None, _) => "-",
        };
        out.push_str(&format!(
            "{:<24} {:>20} {:>20} {:>7}  {:<9} {met}\n",
            r.title,
            figure(&r.ours, r.unit),
            figure(&r.baseline, r.unit),
            r.ratio.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into()),
            target,
        ));
    }
    for r in rows.iter().filter(|r| !r.detail.is_empty()) {
        let digits = if r.unit == "s" { 2 } else { 1 };
        let parts: Vec<String> = r.detail.iter().map(|(k, v)| format!("{k} {v:.digits$}")).collect();
        out.push_str(&format!("\n{} ({}, medians): {}\n", r.title, r.unit, parts.join(", ")));
    }
    let mut errors: Vec<(Vec<&str>, &str)> = Vec::new();
    for r in rows {
        let Some(e) = r.error.as_deref() else { continue };
        match errors.iter_mut().find(|(_, seen)| *seen == e) {
            Some((titles, _)) => titles.push(r.title),
            None => errors.push((vec![r.title], e)),
        }
    }
    for (titles, e) in errors {
        out.push_str(&format!("\n{} failed: {e}\n", titles.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    pub(super) fn median_of_odd_and_even_counts() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert_eq!(Stats::of(&[4.0, 1.0]).unwrap().min, 1.0);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    pub(super) fn targets_judge_ratio_or_value() {
        let mut r = Row::new("k", "t", "s", Goal::MaxRatio(1.3), "");
        r.set(&[1.2], &[1.0]);
        assert_eq!(r.met, Some(true));
        r.set(&[1.4], &[1.0]);
        assert_eq!(r.met, Some(false));
        let mut m = Row::new("k", "t", "MB", Goal::MaxValue(250.0), "");
        m.set(&[240.0], &[]);
        assert_eq!((m.met, m.ratio), (Some(true), None));
    }
}
