//! `compare`: every enforcement point on the same image under each attack of
//! `xtask/data/comparison.toml`, measured each run and checked against that file (which the
//! README table is rendered from).
//!
//! The data is generic: outcomes, columns (the enforcement points) and rows (the attacks, and
//! good images a consumer should accept) are all listed in the file, and the measured matrix
//! carries them, so a report renders any of them without knowing their names. The code knows how
//! to stage each row (`stage`) and how each column checks (`check`).
//!
//! Every row starts from a fresh repository `<registry>/compare/<row>`: an image built in the
//! client (a nonce layer, no pull), pushed and signed with DCT, then signed by digest in the
//! row's formats with the one signing function (`super::signing::ensure`). The row's attack
//! follows, then each column checks the row's tag the way its consumers do. Every command runs
//! as a scenario step does (`crate::step`): a signal that ends the run kills
//! its processes in their container, and the rows measured until then are kept.
//!
//! The matrix as JSON (`compare --json`), for reports that render it (keep it stable):
//! - `outcomes[]`: `id`, `mark`, `meaning` — every outcome a cell can have;
//! - `columns[]`: `id`, `title`, `how`, `clock` — the enforcement points, in order;
//! - `rows[]`: `id`, `kind` (`attack`/`good`), `attack`, `repository`, `tag`, `signed_digest`,
//!   `wanted_digest`, and `cells[]` in the order of `columns`, each with `column`, `outcome`,
//!   `stage` (`signature`, `content`, or empty when nothing refused), `digest` (what the consumer
//!   ended up with, or null), `message`, `exit_code`, `seconds`, `as_recorded` and `recorded`
//!   (the cell as comparison.toml states it);
//! - `sandbox`, `clock_shift`, `as_recorded` (every cell as recorded and nothing interrupted),
//!   and `interrupted` (the signal's name) only when a signal ended the run early.

mod check;
pub mod html;
mod stage;

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xshell::Shell;

use super::consumer::Consumer;
use super::signers::Signers;
use super::signing::Format;
use crate::sandbox::Sandbox;
use crate::step::mask::Masker;
use crate::ui;

pub const DATA: &str = include_str!("../../data/comparison.toml");
/// The clock shift of the freshness row: one day past the 14 days a Notary timestamp lives.
pub const CLOCK_SHIFT: &str = "+15d";

/// One possible result of a cell.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutcomeDef {
    pub id: String,
    pub mark: String,
    pub meaning: String,
}

/// One enforcement point.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub id: String,
    pub title: String,
    pub how: String,
    /// Whether the freshness row's clock shift reaches it.
    pub clock: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// An attacker wants her image accepted: refusing is right.
    Attack,
    /// A correctly signed image: accepting is right.
    Good,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    pub outcome: String,
    /// `signature`, `content`, or empty when nothing refused.
    pub stage: String,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub id: String,
    pub kind: RowKind,
    pub attack: String,
    pub how: String,
    pub note: String,
    /// The tag every column checks (default `latest`).
    #[serde(default = "latest")]
    pub check_tag: String,
    /// The formats the signed image gets besides DCT (default: all).
    #[serde(default = "all_formats")]
    pub signed_with: Vec<Format>,
    pub cells: BTreeMap<String, Cell>,
}

fn latest() -> String {
    "latest".into()
}

fn all_formats() -> Vec<Format> {
    Format::ALL.to_vec()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub outcomes: Vec<OutcomeDef>,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

impl Expected {
    pub fn outcome(&self, id: &str) -> Option<&OutcomeDef> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// Every row has a cell for every column, with a known outcome that fits its kind and a stage
    /// exactly when something refused.
    fn validate(&self) -> Result<()> {
        if self.rows.is_empty() || self.columns.is_empty() {
            bail!("xtask/data/comparison.toml needs rows and columns");
        }
        for r in &self.rows {
            let ids: Vec<&String> = r.cells.keys().collect();
            let cols: Vec<&String> = {
                let mut c: Vec<&String> = self.columns.iter().map(|c| &c.id).collect();
                c.sort();
                c
            };
            if ids != cols {
                bail!("row {}: cells {ids:?} but columns {cols:?}", r.id);
            }
            for (col, c) in &r.cells {
                let allowed = match r.kind {
                    RowKind::Attack => ["attack-refused", "attack-accepted"],
                    RowKind::Good => ["good-refused", "good-accepted"],
                };
                if !allowed.contains(&c.outcome.as_str()) || self.outcome(&c.outcome).is_none() {
                    bail!("row {} column {col}: outcome `{}` is not one of {allowed:?}", r.id, c.outcome);
                }
                let refused = c.outcome.ends_with("refused");
                if refused != matches!(c.stage.as_str(), "signature" | "content") || (!refused && !c.stage.is_empty()) {
                    bail!("row {} column {col}: stage `{}` does not fit outcome {}", r.id, c.stage, c.outcome);
                }
                if c.message.trim().is_empty() {
                    bail!("row {} column {col}: no message", r.id);
                }
            }
        }
        Ok(())
    }
}

pub fn expected() -> Result<Expected> {
    let e: Expected = toml::from_str(DATA).context("parsing xtask/data/comparison.toml")?;
    e.validate()?;
    Ok(e)
}

/// A cell as text: the outcome's mark, the refusing stage, the message.
fn cell_text(e: &Expected, c: &Cell) -> String {
    let mark = e.outcome(&c.outcome).map_or(c.outcome.as_str(), |o| o.mark.as_str());
    let stage = if c.stage.is_empty() { String::new() } else { format!(" ({})", c.stage) };
    format!("{mark}{stage} — `{}`", c.message)
}

/// The README's matrix, rendered from the data file.
pub fn markdown(e: &Expected) -> String {
    let mut s = String::from("| Attack |");
    for c in &e.columns {
        s.push_str(&format!(" {} |", c.title));
    }
    s.push_str("\n| --- |");
    s.push_str(&" --- |".repeat(e.columns.len()));
    s.push('\n');
    for r in &e.rows {
        s.push_str(&format!("| **{}**: {} |", r.attack, r.how));
        for c in &e.columns {
            s.push_str(&format!(" {} |", cell_text(e, &r.cells[&c.id])));
        }
        s.push('\n');
    }
    s.push('\n');
    for c in &e.columns {
        s.push_str(&format!("- **{}**: {}.\n", c.title, c.how));
    }
    s.push('\n');
    for r in &e.rows {
        s.push_str(&format!("- *{}*: {}.\n", r.attack, r.note));
    }
    s
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasuredCell {
    pub column: String,
    pub outcome: String,
    pub stage: String,
    pub exit_code: i32,
    /// The digest the consumer ended up with, if it got one.
    pub digest: Option<String>,
    /// The line of the consumer's output that says what happened.
    pub message: String,
    /// Whether outcome, stage and message are what comparison.toml (and the README) state.
    pub as_recorded: bool,
    pub recorded: Cell,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasuredRow {
    pub id: String,
    pub kind: RowKind,
    pub attack: String,
    pub repository: String,
    pub tag: String,
    pub signed_digest: String,
    /// The digest the row wants a consumer to end up with: the attacker's, or the good image's.
    pub wanted_digest: String,
    pub cells: Vec<MeasuredCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub sandbox: String,
    pub clock_shift: String,
    pub outcomes: Vec<OutcomeDef>,
    pub columns: Vec<Column>,
    /// The signal that ended the comparison early; `rows` then holds the rows measured until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub rows: Vec<MeasuredRow>,
    /// Every row measured and every cell as recorded (false for an interrupted comparison).
    pub as_recorded: bool,
}

/// What a row's check needs: the sandbox's containers and secrets.
pub struct Ctx<'a, 'b> {
    pub sh: &'a Shell,
    pub sb: &'a Sandbox,
    pub signers: &'a Signers<'b>,
    pub consumer: &'a Consumer<'b>,
    pub env: Vec<(String, String)>,
    /// Hides the sandbox's secrets in what a killed command printed last.
    pub masker: Masker,
    pub registry: String,
}

/// Runs every row (or `only` these); the matrix says whether each cell is as recorded. A signal
/// (see `crate::signals`) stops it after the running command's processes are killed: the matrix
/// then holds the rows measured until then, marked interrupted.
pub fn run(
    sh: &Shell,
    sb: &Sandbox,
    signers: &Signers<'_>,
    consumer: &Consumer<'_>,
    only: &[String],
) -> Result<Matrix> {
    let expected = expected()?;
    check_rows(&expected, only)?;
    let secrets = sb.secrets()?;
    let ctx = Ctx {
        sh,
        sb,
        signers,
        consumer,
        env: secrets.client_env(),
        masker: Masker::new(&secrets.values()),
        registry: sb.spec.registry_address()?,
    };
    let mut rows = Vec::new();
    let mut interrupted = None;
    for row in expected.rows.iter().filter(|r| only.is_empty() || only.contains(&r.id)) {
        if let Some(sig) = crate::signals::caught() {
            interrupted = Some(sig.name().to_string());
            break;
        }
        ui::status("Comparing", format!("{}: {}", row.id, row.how));
        match measure_row(&ctx, &expected, row) {
            Ok(r) => rows.push(r),
            // A signal stopped the row half-way (its running command's processes were killed).
            Err(e) if crate::signals::caught().is_some() => {
                ui::warn(format!("comparison row {}: {e:#}", row.id));
                interrupted = crate::signals::caught().map(|s| s.name().to_string());
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let as_recorded = interrupted.is_none() && rows.iter().all(|r| r.cells.iter().all(|c| c.as_recorded));
    Ok(Matrix {
        sandbox: sb.name.clone(),
        clock_shift: CLOCK_SHIFT.into(),
        outcomes: expected.outcomes,
        columns: expected.columns,
        interrupted,
        rows,
        as_recorded,
    })
}

/// One row: staged, then checked by every column.
fn measure_row(ctx: &Ctx<'_, '_>, expected: &Expected, row: &Row) -> Result<MeasuredRow> {
    let staged = stage::stage(ctx, row).with_context(|| format!("staging comparison row {}", row.id))?;
    let mut cells = Vec::new();
    for column in &expected.columns {
        let cell = check::check(ctx, row, column, &staged)
            .with_context(|| format!("comparison row {}, column {}", row.id, column.id))?;
        cells.push(cell);
    }
    Ok(MeasuredRow {
        id: row.id.clone(),
        kind: row.kind,
        attack: row.attack.clone(),
        repository: staged.repo,
        tag: row.check_tag.clone(),
        signed_digest: staged.signed,
        wanted_digest: staged.wanted,
        cells,
    })
}

/// Unknown `--row` ids are refused before anything runs.
pub fn check_rows(e: &Expected, only: &[String]) -> Result<()> {
    for id in only {
        if !e.rows.iter().any(|r| &r.id == id) {
            let ids: Vec<&str> = e.rows.iter().map(|r| r.id.as_str()).collect();
            bail!("unknown comparison row `{id}`; the rows are: {}", ids.join(", "));
        }
    }
    Ok(())
}

/// The measured matrix for a terminal.
pub fn table(m: &Matrix) -> String {
    let mark = |c: &MeasuredCell| {
        let mark = m.outcomes.iter().find(|o| o.id == c.outcome).map_or(c.outcome.as_str(), |o| o.mark.as_str());
        if c.stage.is_empty() {
            mark.to_string()
        } else {
            format!("{mark} ({})", c.stage)
        }
    };
    let width = m.rows.iter().flat_map(|r| &r.cells).map(|c| mark(c).chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for r in &m.rows {
        s.push_str(&format!("{} ({})\n", r.attack, r.id));
        for c in &r.cells {
            let flag = if c.as_recorded { "" } else { "   <-- differs from comparison.toml" };
            s.push_str(&format!("  {:<9} {:<width$} {}{flag}\n", c.column, mark(c), c.message));
        }
    }
    s
}

#[cfg(test)]
mod tests;
