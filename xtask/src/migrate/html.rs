//! The HTML pages of `migrate --html` and `compare --html`, rendered generically from the reports'
//! data: the comparison's columns are the tools its cells name (in the order they first appear),
//! a cell's colour and shape follow its verdict's name; the migration's signature columns are
//! every field of a record that holds an outcome (`{"status": …}`). New columns, rows or
//! outcomes in the data need no change here.

use maud::{html, Markup};
use serde_json::Value;

use super::compare::{Expected, Matrix, MeasuredCell};
use super::Report;
use crate::html::trust::single;
use crate::html::{self, Text, Tone};
use crate::scenario::mask::Masker;
use crate::trust::view::TrustView;

/// How a verdict or outcome looks, by its serialised name: the names of refusal and success are
/// good, of acceptance and failure bad; anything else (not applicable, skipped) quiet.
pub fn tone_of(status: &str) -> Tone {
    match status {
        "refused" | "signed" | "already-signed" | "passed" => Tone::Good,
        "accepted" | "failed" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

/// The serialised name of a verdict-like value (`Verdict::Refused` → `refused`).
fn name_of(v: &impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(o)) => o.get("status").and_then(Value::as_str).unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

/// A column's heading: the README's words for the tools it knows, the tool's name otherwise.
fn column_label(tool: &str) -> String {
    match tool {
        "dct" => "DCT (docker pull)".into(),
        "cosign" => "cosign verify".into(),
        "notation" => "notation verify".into(),
        other => other.to_string(),
    }
}

pub fn render_compare(matrix: &Matrix, expected: &Expected, masker: &Masker) -> String {
    let mask = |s: &str| masker.mask(s);
    let t = Text::new(&mask);
    let mut columns: Vec<&str> = Vec::new();
    for c in matrix.rows.iter().flat_map(|r| &r.cells) {
        if !columns.contains(&c.tool.as_str()) {
            columns.push(&c.tool);
        }
    }
    let differing = matrix.rows.iter().flat_map(|r| &r.cells).filter(|c| !c.as_recorded).count();
    let facts = [
        ("sandbox", matrix.sandbox.clone()),
        ("attacks", matrix.rows.len().to_string()),
        ("verifiers", columns.len().to_string()),
        ("clock shift of the freshness row", matrix.clock_shift.clone()),
    ];
    let body = html! {
        div class="summary" {
            @if matrix.as_recorded { (Tone::Good.mark("every cell as recorded in comparison.toml")) }
            @else { (Tone::Bad.mark(&format!("{differing} cell(s) differ from comparison.toml"))) }
        }
        p class="dim" {
            "Each row starts from a freshly signed tag, stages the attack, then lets each verifier check the tag as its users would. "
            "A refusal means the verifier did not accept the image the attacker wanted accepted."
        }
        table class="grid" {
            colgroup { col style="width: 24%"; @for _ in &columns { col; } }
            thead { tr { th { "Attack" } @for c in &columns { th { (column_label(c)) } } } }
            tbody {
                @for row in &matrix.rows {
                    @let recorded = expected.rows.iter().find(|r| r.id == row.id);
                    tr data-row=(row.id) {
                        th scope="row" {
                            (t.t(&row.attack))
                            @if let Some(r) = recorded { span class="meta dim" { br; (t.t(&r.how)) } }
                        }
                        @for col in &columns {
                            @match row.cells.iter().find(|c| c.tool == *col) {
                                Some(cell) => (grid_cell(&row.id, cell, &t)),
                                None => td class="cell" data-cell={ (row.id) "/" (col) } { span class="dim" { "not measured" } },
                            }
                        }
                    }
                }
            }
        }
        @let notes: Vec<_> = matrix.rows.iter().filter_map(|r| expected.rows.iter().find(|e| e.id == r.id)).collect();
        @if !notes.is_empty() {
            h2 { "Why" }
            ul { @for r in notes { li { strong { (t.t(&r.attack)) } ": " (t.t(&r.note)) "." } } }
        }
        h2 { "Where each attack ran" }
        table {
            thead { tr { th { "Attack" } th { "Repository" } th { "Signed digest" } th { "Digest the attacker wants accepted" } } }
            tbody {
                @for row in &matrix.rows {
                    tr { td { (t.t(&row.attack)) } td class="mono" { (t.t(&row.repository)) } td class="mono" { (t.t(&row.signed_digest)) } td class="mono" { (t.t(&row.attacker_digest)) } }
                }
            }
        }
    };
    html::page("trust-sandbox: what each verifier catches", &facts, body)
}

fn grid_cell(row: &str, cell: &MeasuredCell, t: &Text<'_>) -> Markup {
    let verdict = name_of(&cell.verdict);
    let tone = tone_of(&verdict);
    html! {
        td class={ "cell " (tone.class()) } data-cell={ (row) "/" (cell.tool) } {
            (tone.mark(&verdict))
            span class="msg mono" { (t.t(&cell.message)) }
            span class="meta" { "exit " (cell.exit_code) " · " (format!("{:.2} s", cell.seconds)) }
            @if !cell.as_recorded {
                span class="meta" { (Tone::Warn.mark("differs from the record")) " recorded: " (name_of(&cell.recorded.verdict)) " — " (t.t(&cell.recorded.message)) }
            }
        }
    }
}

/// Fields of a migrate record that the table shows in its own columns; every other field that
/// holds an outcome is a signature column.
const RECORD_COLUMNS: [&str; 6] = ["repository", "tag", "dct_digest", "dct_signers", "registry_digest", "note"];

pub fn render_migrate(report: &Report, origins: &[TrustView], commands: &str, masker: &Masker) -> String {
    let mask = |s: &str| masker.mask(s);
    let t = Text::new(&mask);
    let records: Vec<Value> = report.records.iter().filter_map(|r| serde_json::to_value(r).ok()).collect();
    let mut signature_columns: Vec<String> = Vec::new();
    for r in &records {
        for (k, v) in r.as_object().into_iter().flatten() {
            let outcome = v.get("status").is_some_and(Value::is_string);
            if outcome && !RECORD_COLUMNS.contains(&k.as_str()) && !signature_columns.contains(k) {
                signature_columns.push(k.clone());
            }
        }
    }
    let facts = [
        ("sandbox", report.sandbox.clone()),
        ("signed tags", report.records.len().to_string()),
        ("signed now", report.signed.to_string()),
        ("already there", report.already_signed.to_string()),
        ("failed", report.failed.to_string()),
    ];
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let body = html! {
        div class="summary" {
            @if report.failed == 0 { (Tone::Good.mark("every DCT-signed tag re-signed and verified")) }
            @else { (Tone::Bad.mark(&format!("{} signature(s) failed", report.failed))) }
        }
        p class="dim" { "Each tag is re-signed by the digest DCT signed (its DCT origin), never by what the tag points to now." }
        table class="migrate" {
            colgroup { col style="width: 17%"; col style="width: 7%"; col style="width: 22%"; col style="width: 9%"; col style="width: 13%"; @for _ in &signature_columns { col; } col; }
            thead {
                tr {
                    th { "Repository" } th { "Tag" } th { "DCT-signed digest" } th { "Signed by (DCT)" } th { "Registry now" }
                    @for c in &signature_columns { th { "New signature: " (c) } }
                    th { "Note" }
                }
            }
            tbody {
                @for r in &records {
                    @let digest = text(r, "dct_digest");
                    tr data-record={ (text(r, "repository")) ":" (text(r, "tag")) } {
                        td class="mono" { (t.t(&text(r, "repository"))) }
                        td class="mono" { (t.t(&text(r, "tag"))) }
                        td class="mono" { (t.t(&digest)) }
                        td { (t.t(&r.get("dct_signers").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default())) }
                        td class="mono" {
                            @match r.get("registry_digest").and_then(Value::as_str) {
                                None => (Tone::Warn.mark("tag gone")),
                                Some(d) if d == digest => span class="dim" { "same" },
                                Some(d) => { (Tone::Warn.mark("moved")) " " (t.t(d)) },
                            }
                        }
                        @for c in &signature_columns { (outcome_cell(r.get(c), &t)) }
                        td { (t.t(&text(r, "note"))) }
                    }
                }
            }
        }
        @if !report.without_signed_tags.is_empty() {
            h2 { "Repositories with trust data but no signed tag" }
            ul { @for u in &report.without_signed_tags { li { code { (t.t(&u.repository)) } ": " (t.t(&u.reason)) } } }
        }
        h2 { "Verify as a consumer" }
        pre { (t.t(commands)) }
        @if !origins.is_empty() {
            h2 { "The DCT trust data the digests come from" }
            @for v in origins { (single(v, &t)) }
        }
    };
    html::page("trust-sandbox: migration off DCT", &facts, body)
}

fn outcome_cell(v: Option<&Value>, t: &Text<'_>) -> Markup {
    let status = v.and_then(|v| v.get("status")).and_then(Value::as_str).unwrap_or("none");
    let detail = v.and_then(|v| v.get("detail")).and_then(Value::as_str).unwrap_or_default();
    let tone = tone_of(status);
    html! {
        td class={ "cell " (tone.class()) } {
            (tone.mark(status))
            @if !detail.is_empty() { span class="meta" { (t.t(detail)) } }
        }
    }
}
