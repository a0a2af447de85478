//! The client matrix: scenarios × docker CLIs, as `scenario run --clients` measures it, and as
//! `xtask/data/client-matrix.toml` records it (the README's table is rendered from that file).
//!
//! Plain data: a cell says whether the scenario passed with that client, which steps that client
//! was judged by a per-client expectation (where it behaves differently from the default 20.10),
//! and the step that failed, if one did. Renderers (the terminal table here, the README's
//! Markdown, a report page) read the same types.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::model::{self, Scenario};
use super::report::{Report, ScenarioReport, StepStatus};
use crate::images::client_cli::Cli;

pub const DATA: &str = include_str!("../../data/client-matrix.toml");
pub const SCHEMA: &str = "trust-sandbox/client-matrix/v1";

/// The data file: its clients (pinned CLI IDs, in column order) and one row per scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub clients: Vec<String>,
    pub rows: Vec<RecordedRow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRow {
    pub scenario: String,
    /// Client ID → the steps judged by a per-client expectation there.
    #[serde(default)]
    pub differs: BTreeMap<String, Vec<usize>>,
    /// Client ID → the step that fails there (absent: the scenario passes).
    #[serde(default)]
    pub failed: BTreeMap<String, usize>,
}

/// What the data file says of one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub passed: bool,
    pub differs: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<usize>,
}

impl Recorded {
    pub fn load() -> Result<Recorded> {
        let r: Recorded = toml::from_str(DATA).context("parsing xtask/data/client-matrix.toml")?;
        for row in &r.rows {
            for client in row.differs.keys().chain(row.failed.keys()) {
                if !r.clients.contains(client) {
                    bail!("client-matrix.toml: row {} names client {client}, not one of {:?}", row.scenario, r.clients);
                }
            }
        }
        Ok(r)
    }

    /// The recorded cell, if the file has that scenario and that client.
    pub fn cell(&self, scenario: &str, client: &str) -> Option<Expected> {
        let row = self.rows.iter().find(|r| r.scenario == scenario)?;
        if !self.clients.iter().any(|c| c == client) {
            return None;
        }
        let failed_step = row.failed.get(client).copied();
        Some(Expected {
            passed: failed_step.is_none(),
            differs: row.differs.get(client).cloned().unwrap_or_default(),
            failed_step,
        })
    }
}

/// The steps of `scenario` that a client of `release` is judged by a per-client expectation on:
/// what its `differs` must be, known before anything runs (the unit tests hold the data file to it).
#[cfg(test)]
pub fn static_differs(scenario: &Scenario, release: &semver::Version) -> Vec<usize> {
    scenario
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.expect_for(Some(release)).1.is_some())
        .map(|(i, _)| i + 1)
        .collect()
}

/// A measured run of scenarios on several clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matrix {
    pub schema: String,
    pub engine: String,
    pub clients: Vec<Column>,
    pub rows: Vec<Row>,
    /// Every cell is what client-matrix.toml says (a cell it does not record: passed).
    pub as_recorded: bool,
    /// The run report of each client, in column order.
    pub reports: Vec<Report>,
    /// The signal that ended the run early: the matrix holds the clients played until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// What `--clients` named: a pinned ID (`26.1`) or `file:PATH`.
    pub id: String,
    /// The release the client's `docker --version` reported (`26.1.5+dfsg1`).
    pub cli: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub scenario: String,
    /// One per column, in column order.
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub client: String,
    pub passed: bool,
    /// Steps judged by a per-client expectation (1-based).
    pub differs: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<FailedStep>,
    /// What client-matrix.toml says, when it records this cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Expected>,
    pub as_recorded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    pub index: usize,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Cell {
    pub fn of(client: &str, s: &ScenarioReport, recorded: Option<Expected>) -> Cell {
        let differs: Vec<usize> = s
            .steps
            .iter()
            .filter(|st| st.expectation.as_deref().is_some_and(|e| e != model::DEFAULT_SET))
            .map(|st| st.index)
            .collect();
        let failed_step = s.steps.iter().find(|st| st.status == StepStatus::Failed).map(|st| FailedStep {
            index: st.index,
            title: st.title.clone(),
            message: st.message.clone(),
        });
        let as_recorded = match &recorded {
            Some(r) => {
                r.passed == s.passed
                    && r.differs == differs
                    && r.failed_step == failed_step.as_ref().map(|f| f.index).filter(|_| !s.passed)
            }
            None => s.passed,
        };
        Cell { client: client.to_string(), passed: s.passed, differs, failed_step, recorded, as_recorded }
    }
}

/// The matrix of `runs` (each column with its report); rows in the order the scenarios ran.
pub fn build(engine: &str, runs: Vec<(Column, Report)>, recorded: &Recorded) -> Matrix {
    let mut rows: Vec<Row> = Vec::new();
    for (col, report) in &runs {
        for s in &report.scenarios {
            let cell = Cell::of(&col.id, s, recorded.cell(&s.name, &col.id));
            match rows.iter_mut().find(|r| r.scenario == s.name) {
                Some(r) => r.cells.push(cell),
                None => rows.push(Row { scenario: s.name.clone(), cells: vec![cell] }),
            }
        }
    }
    let as_recorded = rows.iter().flat_map(|r| &r.cells).all(|c| c.as_recorded);
    let (clients, reports) = runs.into_iter().unzip();
    Matrix { schema: SCHEMA.into(), engine: engine.into(), clients, rows, as_recorded, reports, interrupted: None }
}

/// `[6, 7, 8, 9, 12]` → `6–9, 12`.
pub fn ranges(steps: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let mut j = i;
        while j + 1 < steps.len() && steps[j + 1] == steps[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}–{}", steps[i], steps[j]) } else { steps[i].to_string() });
        i = j + 1;
    }
    parts.join(", ")
}

fn mark(passed: bool, differs: &[usize], failed: Option<usize>) -> String {
    let mut s = if passed { "✓".to_string() } else { format!("✗ step {}", failed.unwrap_or(0)) };
    if !differs.is_empty() {
        s.push_str(&format!(" (differs at {})", ranges(differs)));
    }
    s
}

/// The measured matrix for a terminal: a cell per scenario and client, flagged where it is not
/// what client-matrix.toml says, then the failed steps.
pub fn table(m: &Matrix) -> String {
    let width = m.rows.iter().map(|r| r.scenario.len()).max().unwrap_or(8).max(8);
    let cells: Vec<Vec<String>> = m
        .rows
        .iter()
        .map(|r| {
            r.cells
                .iter()
                .map(|c| {
                    let flag = if c.as_recorded { "" } else { " <-- not as recorded" };
                    format!("{}{flag}", mark(c.passed, &c.differs, c.failed_step.as_ref().map(|f| f.index)))
                })
                .collect()
        })
        .collect();
    let col_width: Vec<usize> = (0..m.clients.len())
        .map(|i| {
            let head = m.clients[i].cli.chars().count();
            cells.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0).max(head)
        })
        .collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut s = pad("SCENARIO", width);
    for (c, w) in m.clients.iter().zip(&col_width) {
        s.push_str("  ");
        s.push_str(&pad(&c.cli, *w));
    }
    s = s.trim_end().to_string();
    s.push('\n');
    for (r, row_cells) in m.rows.iter().zip(&cells) {
        let mut line = pad(&r.scenario, width);
        for (c, w) in row_cells.iter().zip(&col_width) {
            line.push_str("  ");
            line.push_str(&pad(c, *w));
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    for r in &m.rows {
        for c in &r.cells {
            if let Some(f) = &c.failed_step {
                let msg = f.message.as_deref().unwrap_or("failed");
                s.push_str(&format!("{} on {}: step {} ({}): {msg}\n", r.scenario, c.client, f.index, f.title));
            }
        }
    }
    s
}

/// The README's client matrix, rendered from the data file, the pinned CLIs (column heads) and
/// the scenarios (the differing steps' titles and why they differ).
pub fn markdown(recorded: &Recorded, clis: &[Cli], scenarios: &[Scenario]) -> Result<String> {
    let mut head = String::from("| Scenario |");
    let mut rule = String::from("| --- |");
    for id in &recorded.clients {
        let cli = clis.iter().find(|c| c.id == *id).with_context(|| format!("client {id} is not in images.lock"))?;
        head.push_str(&format!(" docker CLI {} ({} `{}`) |", cli.release, cli.suite, cli.package));
        rule.push_str(" --- |");
    }
    let mut s = format!("{head}\n{rule}\n");
    let mut notes = String::new();
    for row in &recorded.rows {
        s.push_str(&format!("| `{}` |", row.scenario));
        let mut groups: Vec<(Vec<usize>, Vec<&str>)> = Vec::new();
        for id in &recorded.clients {
            let e = recorded.cell(&row.scenario, id).expect("a recorded row and client");
            s.push_str(&format!(" {} |", mark(e.passed, &e.differs, e.failed_step)));
            if !e.differs.is_empty() {
                match groups.iter_mut().find(|(d, _)| *d == e.differs) {
                    Some((_, ids)) => ids.push(id),
                    None => groups.push((e.differs.clone(), vec![id])),
                }
            }
        }
        s.push('\n');
        let scenario = scenarios.iter().find(|sc| sc.name == row.scenario);
        for (steps, ids) in groups {
            let scenario = scenario.with_context(|| format!("client-matrix.toml: no scenario {}", row.scenario))?;
            let release = clis.iter().find(|c| c.id == ids[0]).and_then(|c| semver::Version::parse(&c.release).ok());
            let mut parts = Vec::new();
            for i in &steps {
                let step = scenario.steps.get(i - 1).with_context(|| format!("{} has no step {i}", row.scenario))?;
                let why = step.expect_for(release.as_ref()).1.map(|c| one_line(&c.why)).unwrap_or_default();
                parts.push(format!("step {i} *{}*: {why}", step.title));
            }
            notes.push_str(&format!("- `{}` on {}: {}\n", row.scenario, ids.join(", "), parts.join("; ")));
        }
    }
    if !notes.is_empty() {
        s.push('\n');
        s.push_str(&notes);
    }
    Ok(s)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
