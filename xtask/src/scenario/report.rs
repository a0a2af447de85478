//! The machine-readable run report (`--json`).
//!
//! Consumers should check `schema`: fields may be added within v1, but a
//! field is never removed or changes meaning without a new version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::expect::Failure;
use super::model::{Expect, Target};
use crate::trust::view::TrustView;

pub const SCHEMA: &str = "trust-sandbox/scenario-report/v1";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Report {
    pub schema: String,
    /// The container engine, as the executor describes it (e.g. "podman 5.4.2").
    pub engine: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub run_id: String,
    /// The signal that ended the run early (`SIGINT`, `SIGTERM`, `SIGHUP`): the report holds what
    /// ran until then, the rest as not run. Absent when the run ended by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub scenarios: Vec<ScenarioReport>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    /// The scenario's one-line summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Every step passed or was skipped on purpose, none failed or was left out.
    pub passed: bool,
    /// The person at the --step prompt quit (or input ended).
    pub aborted: bool,
    /// A signal ended the run before this scenario finished (or started).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub duration_ms: u64,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Skipped on purpose at the --step prompt.
    Skipped,
    /// Never attempted: an earlier step failed or the run was aborted.
    NotRun,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::NotRun => "not-run",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct StepReport {
    /// 1-based, as in the human output's `[2/6]`.
    pub index: usize,
    pub title: String,
    /// What happens and why, as the scenario explains it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub explain: String,
    pub on: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The script after interpolation, or the action (e.g. "stop notarysigner"); shortened when
    /// long (see `command_shortened`).
    pub command: String,
    /// Set when `command` was shortened for display: the whole script's size and hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_shortened: Option<Shortened>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    pub status: StepStatus,
    /// Absent when the command did not run.
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// The expectation after interpolation, with the outcome made explicit.
    pub expected: Expect,
    /// One line saying what went wrong, as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub failures: Vec<Failure>,
    /// Why a step was skipped or not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub captures: BTreeMap<String, String>,
    /// The last lines of stdout+stderr.
    pub output_tail: Vec<String>,
    /// The step's `trust` repository just before and after it ran (taken for HTML reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustChange>,
}

/// A repository's trust tree around one step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrustChange {
    /// As the step names it, placeholders filled in.
    pub repository: String,
    /// Whose cache is shown; none: the Notary server's stored data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub before: TrustShot,
    pub after: TrustShot,
}

/// One look at the trust data: the view, or why there is none (no trust data yet, say).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrustShot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<TrustView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl TrustShot {
    pub fn of(result: anyhow::Result<TrustView>) -> TrustShot {
        match result {
            Ok(view) => TrustShot { view: Some(view), note: None },
            Err(e) => TrustShot { view: None, note: Some(format!("{e:#}")) },
        }
    }
}

/// What a shortened command stands for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Shortened {
    pub bytes: usize,
    pub lines: usize,
    /// Of the whole (masked) script.
    pub sha256: String,
}

/// Above this many bytes or lines a step's command is shown shortened, in the terminal and in the
/// reports alike; the longest step of the embedded scenarios has 18 lines and 768 bytes.
const SHOW_BYTES: usize = 4096;
const SHOW_LINES: usize = 40;
/// A shortened command keeps its first lines, each cut to a width.
const KEEP_LINES: usize = 12;
const KEEP_WIDTH: usize = 200;

/// `command` as shown: whole when short, else its first lines and a closing line that says how
/// much there is and its sha256 (with the same figures returned for the JSON).
pub fn shorten(command: &str) -> (String, Option<Shortened>) {
    let lines = command.lines().count();
    if command.len() <= SHOW_BYTES && lines <= SHOW_LINES {
        return (command.to_string(), None);
    }
    use sha2::Digest;
    let sha256 = crate::util::hex(&sha2::Sha256::digest(command.as_bytes()));
    let mut shown: Vec<String> = command
        .lines()
        .take(KEEP_LINES)
        .map(|l| match l.char_indices().nth(KEEP_WIDTH) {
            Some((cut, _)) => format!("{}…", &l[..cut]),
            None => l.to_string(),
        })
        .collect();
    shown.push(format!("… shortened: {} bytes, {lines} lines in all, sha256 {}", command.len(), &sha256[..16]));
    (shown.join("\n"), Some(Shortened { bytes: command.len(), lines, sha256 }))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Summary {
    /// Scenarios, not steps.
    pub passed: usize,
    pub failed: usize,
}

impl Summary {
    pub fn of(scenarios: &[ScenarioReport]) -> Summary {
        let passed = scenarios.iter().filter(|s| s.passed).count();
        Summary { passed, failed: scenarios.len() - passed }
    }

    /// The closing line CI reads: exactly `N passed, M failed`.
    pub fn line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// Step counts of one scenario, for its summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub not_run: usize,
}

impl ScenarioReport {
    pub fn counts(&self) -> StepCounts {
        let mut c = StepCounts::default();
        for s in &self.steps {
            match s.status {
                StepStatus::Passed => c.passed += 1,
                StepStatus::Failed => c.failed += 1,
                StepStatus::Skipped => c.skipped += 1,
                StepStatus::NotRun => c.not_run += 1,
            }
        }
        c
    }

    /// `guide: 6 passed, 0 failed` (skipped / not run only when there are any).
    pub fn summary_line(&self) -> String {
        let c = self.counts();
        let mut line = format!("{}: {} passed, {} failed", self.name, c.passed, c.failed);
        if c.skipped > 0 {
            line.push_str(&format!(", {} skipped", c.skipped));
        }
        if c.not_run > 0 {
            line.push_str(&format!(", {} not run", c.not_run));
        }
        if self.aborted {
            line.push_str(" (aborted)");
        }
        if self.interrupted {
            line.push_str(" (interrupted)");
        }
        line
    }
}

impl Report {
    pub fn new(engine: &str, started_at: &str, run_id: &str, scenarios: Vec<ScenarioReport>) -> Report {
        Report {
            schema: SCHEMA.to_string(),
            engine: engine.to_string(),
            started_at: started_at.to_string(),
            run_id: run_id.to_string(),
            interrupted: None,
            summary: Summary::of(&scenarios),
            scenarios,
        }
    }

    /// Parses a report, refusing other schema versions rather than misreading them (what a
    /// consumer of the JSON does; the tests read reports back this way).
    #[cfg(test)]
    pub fn from_json(text: &str) -> anyhow::Result<Report> {
        use anyhow::{bail, Context};
        let value: serde_json::Value = serde_json::from_str(text).context("report is not JSON")?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => bail!("report schema is {other:?}, this reader understands {SCHEMA:?}"),
            None => bail!("report has no \"schema\" field"),
        }
        serde_json::from_value(value).context("report does not follow its schema")
    }
}
