//! The page of `migrate --html`: each DCT-signed digest with its DCT origin (the repository, tag
//! and signers, and the server's trust tree it comes from), its new signatures in every format
//! (one column per format, whether asked for or found), the formats it carries afterwards (each
//! verified with this sandbox's key or certificate), what was asked for and not signed, and
//! the consumer kit written beside the key and certificate.

use maud::{html, Markup};

use super::signing::{Format, FormatResult, Status};
use super::{short, Record, Report};
use crate::html::trust::single;
use crate::html::{self, Text, Tone};
use crate::step::mask::Masker;
use crate::trust::view::TrustView;

/// How a format's status looks: carried signatures are good, a failure bad, a signature by
/// another key worth a look, none quiet.
fn look(status: Status, asked: bool) -> (Tone, &'static str) {
    match status {
        Status::Signed => (Tone::Good, "signed now"),
        Status::Already => (Tone::Good, "already signed"),
        Status::Present => (Tone::Good, "present (not asked for)"),
        Status::Foreign => (Tone::Warn, "signed by another key"),
        Status::Failed => (Tone::Bad, "failed"),
        Status::Absent if asked => (Tone::Bad, "none"),
        Status::Absent => (Tone::Quiet, "none (not asked for)"),
    }
}

/// What the page knows beside the report: the repositories' trust data and the kit's files.
pub struct Extras<'a> {
    /// The server's trust data of each migrated repository (where the signed digests come from).
    pub origins: &'a [TrustView],
    /// The consumer's verify commands, as the terminal shows them.
    pub commands: &'a str,
    /// The files of the consumer kit, relative to its directory.
    pub kit_files: &'a [String],
}

pub fn render(report: &Report, extras: &Extras<'_>, masker: &Masker) -> String {
    let mask = |s: &str| masker.mask(s);
    let t = Text::new(&mask);
    let formats: Vec<&str> = report.formats.iter().map(|f| f.name()).collect();
    let facts = [
        ("sandbox", report.sandbox.clone()),
        ("formats asked for", formats.join(", ")),
        ("signed tags", report.records.len().to_string()),
        ("signed now", report.signed.to_string()),
        ("already there", report.already_signed.to_string()),
        ("failed", report.failed.to_string()),
    ];
    let body = html! {
        div class="summary" {
            @if let Some(sig) = &report.interrupted { (Tone::Warn.mark(&format!("interrupted by {sig}"))) }
            @if report.not_migrated.is_empty() { (Tone::Good.mark("every DCT-signed tag carries every format asked for")) }
            @else { (Tone::Bad.mark(&format!("{} signature(s) asked for are missing", report.not_migrated.len()))) }
        }
        p class="dim" {
            "Each tag is re-signed by the digest DCT signed (its DCT origin), never by what the tag points to now; "
            "each signature is verified with this sandbox's key or certificate."
        }
        table class="migrate" {
            colgroup { col style="width: 15%"; col style="width: 6%"; col style="width: 19%"; col style="width: 10%"; @for _ in Format::ALL { col; } col style="width: 10%"; col; }
            thead {
                tr {
                    th { "Repository" } th { "Tag" } th { "DCT origin: the signed digest, its signers" } th { "Registry now" }
                    @for f in Format::ALL { th data-format=(f.name()) { "New signature: " (f.name()) } }
                    th { "Carries (verified)" }
                    th { "Note" }
                }
            }
            tbody { @for r in &report.records { (record_row(report, r, extras, &t)) } }
        }
        @if !report.not_migrated.is_empty() {
            h2 { "Not migrated" }
            ul class="checks" {
                @for n in &report.not_migrated {
                    li data-not-migrated={ (n.tag) "/" (n.format.name()) } {
                        (Tone::Bad.mark(n.format.name())) " " code { (t.t(&n.tag)) } " (" code title=(n.digest) { (short(&n.digest)) } "): " (t.t(&n.reason))
                    }
                }
            }
        }
        @if !report.without_signed_tags.is_empty() {
            h2 { "Repositories with trust data but no signed tag" }
            ul { @for u in &report.without_signed_tags { li { code { (t.t(&u.repository)) } ": " (t.t(&u.reason)) } } }
        }
        h2 { "The consumer kit" }
        @match &report.kit {
            Some(dir) => {
                p { "Written to " code data-kit=(t.t(dir)) { (t.t(dir)) } " from the same key and certificate (no secret in it):" }
                ul class="kit" { @for f in extras.kit_files { li { code { (t.t(f)) } } } }
            }
            None => p { (Tone::Warn.mark("not written")) },
        }
        h2 { "Verify as a consumer" }
        pre { (t.t(extras.commands)) }
        @if !extras.origins.is_empty() {
            h2 { "The DCT trust data the digests come from" }
            @for v in extras.origins { (single(v, &t)) }
        }
    };
    html::page("trust-sandbox: migration off DCT", &facts, body)
}

fn record_row(report: &Report, r: &Record, extras: &Extras<'_>, t: &Text<'_>) -> Markup {
    let has_tree = extras.origins.iter().any(|v| v.repository == r.repository);
    html! {
        tr data-record={ (r.repository) ":" (r.tag) } {
            td class="mono" { (t.t(&r.repository)) }
            td class="mono" { (t.t(&r.tag)) }
            td {
                code data-origin=(r.dct_digest) { (t.t(&r.dct_digest)) }
                span class="meta dim" {
                    br; "signed in DCT by " (t.t(&r.dct_signers.join(", ")))
                    @if has_tree { " · trust tree below" }
                }
            }
            td class="mono" {
                @match &r.registry_digest {
                    None => (Tone::Warn.mark("tag gone")),
                    Some(d) if *d == r.dct_digest => span class="dim" { "same" },
                    Some(d) => { (Tone::Warn.mark("moved")) " " (t.t(d)) },
                }
            }
            @for f in Format::ALL { (format_cell(f, r.signatures.iter().find(|s| s.format == f), report.formats.contains(&f), t)) }
            @let carries: Vec<&str> = r.carries.iter().map(|f| f.name()).collect();
            td data-carries=(carries.join(" ")) {
                @if carries.is_empty() { (Tone::Bad.mark("nothing")) }
                @else { @for f in &carries { span class="chip" { (f) } " " } }
            }
            td { (t.t(&r.note)) }
        }
    }
}

fn format_cell(format: Format, result: Option<&FormatResult>, asked: bool, t: &Text<'_>) -> Markup {
    let (tone, word) = match result {
        Some(s) => look(s.status, asked),
        None => (Tone::Quiet, "not signed: the digest is not served"),
    };
    html! {
        td class={ "cell " (tone.class()) } data-format=(format.name()) {
            (tone.mark(word))
            @if let Some(s) = result {
                @for sig in &s.signatures { span class="meta mono" title=(sig) { "signature " (short(sig)) } }
                @if !s.detail.is_empty() { span class="meta" { (t.t(&s.detail)) } }
            }
        }
    }
}
