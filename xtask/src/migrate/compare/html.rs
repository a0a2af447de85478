//! The page of `compare --html`: the matrix as a grid, rendered from the data the matrix carries
//! (its outcomes, columns and rows, as `xtask/data/comparison.toml` lists them), so a new
//! column, row or outcome needs no change here. A cell shows its outcome as shape, word and
//! colour, the stage that refused, the consumer's line (its evidence), the digest it ended up
//! with, and any difference from the record.

use maud::{html, Markup};

use super::{Expected, Matrix, MeasuredCell, MeasuredRow, OutcomeDef, RowKind};
use crate::html::{self, Text, Tone};
use crate::migrate::short;
use crate::step::mask::Masker;

/// An outcome's look, from its mark in the data (`✓ refused`, `✗ accepted`, `⚠ good image
/// refused`): the glyph gives the shape and colour, the rest is the word.
pub fn look(outcome: &OutcomeDef) -> (Tone, String) {
    let mark = outcome.mark.trim();
    let (tone, rest) = [("✓", Tone::Good), ("✗", Tone::Bad), ("⚠", Tone::Warn)]
        .into_iter()
        .find_map(|(glyph, tone)| mark.strip_prefix(glyph).map(|rest| (tone, rest)))
        .unwrap_or((Tone::Quiet, mark));
    let word = rest.trim();
    (tone, if word.is_empty() { outcome.id.clone() } else { word.to_string() })
}

/// The mark of outcome `id` as `outcomes` define it (an unknown id shows as itself, quiet).
fn outcome_mark(outcomes: &[OutcomeDef], id: &str) -> (Tone, Markup) {
    match outcomes.iter().find(|o| o.id == id) {
        Some(o) => {
            let (tone, word) = look(o);
            (tone, tone.mark(&word))
        }
        None => (Tone::Quiet, Tone::Quiet.mark(id)),
    }
}

fn kind_word(kind: RowKind) -> &'static str {
    match kind {
        RowKind::Attack => "attack",
        RowKind::Good => "good image",
    }
}

pub fn render(matrix: &Matrix, expected: &Expected, masker: &Masker) -> String {
    let mask = |s: &str| masker.mask(s);
    let t = Text::new(&mask);
    let cells = || matrix.rows.iter().flat_map(|r| &r.cells);
    let differing = cells().filter(|c| !c.as_recorded).count();
    let facts = [
        ("sandbox", matrix.sandbox.clone()),
        ("rows", matrix.rows.len().to_string()),
        ("enforcement points", matrix.columns.len().to_string()),
        ("clock shift of the freshness row", matrix.clock_shift.clone()),
    ];
    let body = html! {
        div class="summary" {
            @if let Some(sig) = &matrix.interrupted {
                (Tone::Warn.mark(&format!("interrupted by {sig}: {} row(s) measured", matrix.rows.len())))
            }
            @if matrix.as_recorded { (Tone::Good.mark("every cell as recorded in comparison.toml")) }
            @else if differing > 0 { (Tone::Bad.mark(&format!("{differing} cell(s) differ from comparison.toml"))) }
        }
        p class="dim" {
            "Each row starts from a freshly signed image, stages its attack (or leaves a good image in place), "
            "then lets each enforcement point take the tag as its users would. A cell says what the consumer "
            "ended up with, and which stage refused: the signature (or signed metadata), or the content "
            "(the blobs against the digests that were checked)."
        }
        ul class="checks" {
            @for o in &matrix.outcomes {
                li data-outcome=(o.id) { (outcome_mark(&matrix.outcomes, &o.id).1) " " span class="dim" { (t.t(&o.meaning)) } }
            }
        }
        table class="grid" {
            colgroup { col style="width: 19%"; @for _ in &matrix.columns { col; } }
            thead { tr { th { "Row" } @for c in &matrix.columns { th data-column=(c.id) { (t.t(&c.title)) } } } }
            tbody {
                @for row in &matrix.rows {
                    tr data-row=(row.id) {
                        th scope="row" {
                            span class="chip" { (kind_word(row.kind)) } " " (t.t(&row.attack))
                            @if let Some(r) = expected.rows.iter().find(|r| r.id == row.id) {
                                span class="meta dim" { br; (t.t(&r.how)) }
                            }
                        }
                        @for col in &matrix.columns {
                            @match row.cells.iter().find(|c| c.column == col.id) {
                                Some(cell) => (grid_cell(matrix, row, cell, &t)),
                                None => td class="cell" data-cell={ (row.id) "/" (col.id) } { (Tone::Quiet.mark("not measured")) },
                            }
                        }
                    }
                }
            }
        }
        h2 { "The enforcement points" }
        ul { @for c in &matrix.columns { li { strong { (t.t(&c.title)) } ": " (t.t(&c.how)) "." } } }
        @let notes: Vec<_> = matrix.rows.iter().filter_map(|r| expected.rows.iter().find(|e| e.id == r.id)).collect();
        @if !notes.is_empty() {
            h2 { "Why" }
            ul { @for r in notes { li { strong { (t.t(&r.attack)) } ": " (t.t(&r.note)) "." } } }
        }
        h2 { "Where each row ran" }
        table {
            thead { tr { th { "Row" } th { "Repository and tag" } th { "Signed digest" } th { "Digest the row wants a consumer to end up with" } } }
            tbody {
                @for row in &matrix.rows {
                    tr {
                        td { (t.t(&row.attack)) }
                        td class="mono" { (t.t(&row.repository)) ":" (t.t(&row.tag)) }
                        td class="mono" { (t.t(&row.signed_digest)) }
                        td class="mono" { (t.t(&row.wanted_digest)) " " span class="dim" { "(" (wanted_word(row.kind)) ")" } }
                    }
                }
            }
        }
    };
    html::page("trust-sandbox: what each enforcement point refuses", &facts, body)
}

fn wanted_word(kind: RowKind) -> &'static str {
    match kind {
        RowKind::Attack => "the attacker's",
        RowKind::Good => "the good image",
    }
}

/// What the consumer ended up with, in the row's words.
fn ended_with(row: &MeasuredRow, cell: &MeasuredCell) -> String {
    match &cell.digest {
        None => "ended up with no image".into(),
        Some(d) if *d == row.wanted_digest => format!("ended up with {} ({})", short(d), wanted_word(row.kind)),
        Some(d) if *d == row.signed_digest => format!("ended up with {} (the signed image)", short(d)),
        Some(d) => format!("ended up with {}", short(d)),
    }
}

fn grid_cell(matrix: &Matrix, row: &MeasuredRow, cell: &MeasuredCell, t: &Text<'_>) -> Markup {
    let (tone, mark) = outcome_mark(&matrix.outcomes, &cell.outcome);
    let recorded = &cell.recorded;
    html! {
        td class={ "cell " (tone.class()) } data-cell={ (row.id) "/" (cell.column) } data-outcome=(cell.outcome) data-stage=(cell.stage) {
            (mark)
            @if !cell.stage.is_empty() { " " span class="chip" { "at the " (cell.stage) } }
            span class="msg mono" { (t.t(&cell.message)) }
            span class="meta" { (ended_with(row, cell)) " · exit " (cell.exit_code) " · " (format!("{:.2} s", cell.seconds)) }
            @if !cell.as_recorded {
                span class="meta" {
                    (Tone::Warn.mark("differs from the record")) " recorded: "
                    (outcome_mark(&matrix.outcomes, &recorded.outcome).1)
                    @if !recorded.stage.is_empty() { " at the " (recorded.stage) }
                    " — " (t.t(&recorded.message))
                }
            }
        }
    }
}
