//! The HTML reports (`--html FILE`): one self-contained page per run — inline CSS and SVG, no
//! script, no network — that reads without JavaScript and prints on A4. Pages are built with
//! maud, which escapes every interpolated value by construction; every text a report carries
//! from commands and their output also passes through the secrets masker on its way in.
//!
//! Marks carry meaning by shape and word as well as colour (Okabe–Ito hues): passed/refused is a
//! circle with a tick, failed/accepted a square with a cross, a warning a triangle with `!`,
//! not run a hollow circle with a dash, a change a diamond.
//!
//! The renderers of each report live beside their data (`scenario::html`, `migrate::html`); this
//! module holds the page, the marks and the trust trees. Pages are written, like the JSON and
//! JUnit reports, by `session::reports`.

pub mod trust;

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// What a mark says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Passed; refused an attack.
    Good,
    /// Failed; accepted an attack.
    Bad,
    /// Worth a look: differs, stale, expired soon.
    Warn,
    /// Skipped, not run, nothing to say.
    Quiet,
    /// Changed by a step.
    Changed,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Warn => "warn",
            Tone::Quiet => "quiet",
            Tone::Changed => "changed",
        }
    }

    /// The shape, drawn inline; `word` says the same in text (for colour-blind readers, print
    /// in black and white, and screen readers).
    pub fn mark(self, word: &str) -> Markup {
        let shape = match self {
            Tone::Good => html! { circle cx="8" cy="8" r="7" {} path d="M4.5 8.3l2.3 2.4 4.7-5.2" {} },
            Tone::Bad => {
                html! { rect x="1.5" y="1.5" width="13" height="13" rx="1.5" {} path d="M5 5l6 6M11 5l-6 6" {} }
            }
            Tone::Warn => html! { path d="M8 1.3l7 13.2H1z" {} path d="M8 6v4.2M8 12.2v.3" {} },
            Tone::Quiet => html! { circle class="hollow" cx="8" cy="8" r="6.3" {} path d="M5 8h6" {} },
            Tone::Changed => html! { path d="M8 1l7 7-7 7-7-7z" {} path d="M5.5 8h5M8.8 5.8L11 8l-2.2 2.2" {} },
        };
        html! {
            span class={ "mark " (self.class()) } {
                svg class="shape" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" { (shape) }
                span class="word" { (word) }
            }
        }
    }
}

/// Text on its way into a page: secrets masked (by the reports' masker, handed in as a function
/// so that pages depend on no report's module).
pub struct Text<'a> {
    mask: &'a dyn Fn(&str) -> String,
}

impl<'a> Text<'a> {
    pub fn new(mask: &'a dyn Fn(&str) -> String) -> Text<'a> {
        Text { mask }
    }

    /// `s` with secrets masked (maud escapes it where it is interpolated).
    pub fn t(&self, s: &str) -> String {
        (self.mask)(s)
    }
}

/// The page around `body`: title, the report's facts as a line of key–value pairs.
pub fn page(title: &str, facts: &[(&str, String)], body: Markup) -> String {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (title) }
                    @if !facts.is_empty() {
                        dl class="facts" {
                            @for (k, v) in facts {
                                div { dt { (k) } dd { (v) } }
                            }
                        }
                    }
                }
                main { (body) }
                footer { "Written by trust-sandbox. Marks: " (Tone::Good.mark("passed / refused")) " " (Tone::Bad.mark("failed / accepted")) " " (Tone::Warn.mark("look here")) " " (Tone::Changed.mark("changed")) " " (Tone::Quiet.mark("not run")) }
            }
        }
    };
    doc.into_string()
}

/// `1.23 s`, `0.16 s`.
pub fn secs(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

const CSS: &str = r#"
:root { --good:#009E73; --good-ink:#00674b; --good-bg:#e3f4ee; --bad:#D55E00; --bad-ink:#a33f00; --bad-bg:#fbe9dd;
  --warn:#E69F00; --warn-ink:#7a5200; --warn-bg:#fdf3dc; --quiet:#7a7a7a; --changed:#0072B2; --changed-ink:#005a8c;
  --changed-bg:#e2eff8; --ink:#1d1d1f; --dim:#5c5c66; --rule:#d8d8de; --code-bg:#f4f4f7; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink);
  margin: 0 auto; padding: 1.2rem 1.5rem 2rem; max-width: 68rem; }
h1 { font-size: 1.5rem; margin: 0 0 .4rem; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .3rem; padding-top: .6rem; border-top: 2px solid var(--rule); }
h3 { font-size: 1rem; margin: .2rem 0; }
p { margin: .25rem 0; }
a { color: var(--changed-ink); }
code, pre, .mono { font-family: "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; font-size: .86em; }
pre { background: var(--code-bg); padding: .45rem .6rem; margin: .3rem 0; border-radius: 4px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.dim { color: var(--dim); }
dl.facts { display: flex; flex-wrap: wrap; gap: .2rem 1.4rem; margin: 0 0 .6rem; }
dl.facts div { display: flex; gap: .35rem; } dl.facts dt { color: var(--dim); } dl.facts dd { margin: 0; font-weight: 600; }
.mark { display: inline-flex; align-items: center; gap: .25rem; font-weight: 600; white-space: nowrap; }
.mark svg { flex: none; } .mark svg * { stroke-width: 1.6; stroke-linecap: round; stroke-linejoin: round; }
.mark.good { color: var(--good-ink); } .mark.good svg circle { fill: var(--good); stroke: var(--good); } .mark.good svg path { stroke: #fff; fill: none; }
.mark.bad { color: var(--bad-ink); } .mark.bad svg rect { fill: var(--bad); stroke: var(--bad); } .mark.bad svg path { stroke: #fff; fill: none; }
.mark.warn { color: var(--warn-ink); } .mark.warn svg path:first-child { fill: var(--warn); stroke: var(--warn); } .mark.warn svg path + path { stroke: #000; fill: none; }
.mark.quiet { color: var(--quiet); } .mark.quiet svg circle { fill: none; stroke: var(--quiet); } .mark.quiet svg path { stroke: var(--quiet); }
.mark.changed { color: var(--changed-ink); } .mark.changed svg path:first-child { fill: var(--changed); stroke: var(--changed); } .mark.changed svg path + path { stroke: #fff; fill: none; }
.summary { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .5rem 0; font-size: 1.05rem; }
nav.toc ol { columns: 3 14rem; margin: .3rem 0; padding-left: 1.2rem; }
section.failures { background: var(--bad-bg); border-left: 4px solid var(--bad); padding: .4rem .8rem .6rem; margin: .8rem 0; }
section.failures h2 { border: 0; margin-top: .2rem; padding-top: 0; }
ol.steps { list-style: none; padding: 0; margin: .4rem 0; }
li.step { border: 1px solid var(--rule); border-left: 4px solid var(--good); border-radius: 4px; padding: .45rem .7rem; margin: .45rem 0; }
li.step.failed { border-left-color: var(--bad); background: #fffaf7; }
li.step.skipped, li.step.not-run { border-left-color: var(--quiet); }
.step-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: .2rem .7rem; }
.step-head .title { font-weight: 650; }
.chips { display: inline-flex; gap: .3rem; flex-wrap: wrap; }
.chip { background: var(--code-bg); border-radius: 3px; padding: 0 .35rem; font-size: .82em; color: var(--dim); }
.outcome { margin: .25rem 0; }
.evidence { border-left: 3px solid var(--rule); padding-left: .5rem; margin: .25rem 0; }
.evidence code { overflow-wrap: anywhere; }
ul.failures { margin: .2rem 0; padding-left: 1.2rem; color: var(--bad-ink); }
details summary { cursor: pointer; color: var(--dim); }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: .5rem 0; }
th, td { border: 1px solid var(--rule); padding: .35rem .45rem; vertical-align: top; text-align: left; overflow-wrap: anywhere; }
th { background: var(--code-bg); font-weight: 650; }
th .meta { font-weight: 400; }
td.cell.good { background: var(--good-bg); } td.cell.bad { background: var(--bad-bg); } td.cell.warn { background: var(--warn-bg); }
td.cell .mark { white-space: normal; } /* a narrow column wraps the word, never spills it */
td.cell .msg { display: block; margin-top: .2rem; }
td.cell .meta { display: block; color: var(--dim); font-size: .82em; margin-top: .15rem; }
.trust-pair { display: grid; grid-template-columns: 1fr 1fr; gap: .6rem; margin: .4rem 0; }
.trust-pair > div, .trust-one { border: 1px solid var(--rule); border-radius: 4px; padding: .35rem .55rem; min-width: 0; }
.trust-pair h4, .trust-one h4 { margin: 0 0 .2rem; font-size: .9rem; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.1rem; }
ul.tree { padding-left: 0; }
ul.tree ul { border-left: 1px solid var(--rule); margin-left: .3rem; padding-left: .8rem; }
ul.tree li { margin: .1rem 0; overflow-wrap: anywhere; }
li.role > .role-head .name { font-weight: 700; }
li.role.changed > .role-head { background: var(--changed-bg); border-radius: 3px; padding: 0 .25rem; }
li.role.undelegated > .role-head .name { text-decoration: line-through; }
ul.checks { list-style: none; padding: 0; margin: .3rem 0 0; }
footer { margin-top: 2rem; padding-top: .5rem; border-top: 1px solid var(--rule); color: var(--dim); font-size: .85em;
  display: flex; flex-wrap: wrap; gap: .3rem .9rem; align-items: center; }
@page { size: A4; margin: 12mm 11mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  h2 { break-after: avoid; } .step-head, tr, .trust-pair > div, li.role > .role-head { break-inside: avoid; }
  details:not([open]) { display: none; }
  a { color: inherit; text-decoration: none; }
  .trust-pair { grid-template-columns: 1fr 1fr; }
}
@media (max-width: 50rem) { .trust-pair { grid-template-columns: 1fr; } }
"#;

#[cfg(test)]
pub mod tests;
