//! The HTML page of a scenario run (`scenario run`/`play --html FILE`): every step with its
//! command, outcome, timing and the message it recorded; failures first; the trust trees before
//! and after the steps that name a `trust` repository. A run a signal ended says so at the top,
//! and its scenarios are marked interrupted.

use maud::{html, Markup};
use regex_lite::Regex;

use super::report::{Report, ScenarioReport, StepReport, StepStatus};
use crate::html::trust::{pair, Shot};
use crate::html::{self, secs, Text, Tone};
use crate::step::mask::Masker;

/// Evidence lines shown per step: enough to see what the tool said.
const EVIDENCE_LINES: usize = 3;

pub fn render(report: &Report, masker: &Masker) -> String {
    let mask = |s: &str| masker.mask(s);
    let t = Text::new(&mask);
    let steps: usize = report.scenarios.iter().map(|s| s.steps.len()).sum();
    let failed_steps: Vec<(&ScenarioReport, &StepReport)> = report
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().filter(|st| st.status == StepStatus::Failed).map(move |st| (s, st)))
        .collect();
    // Failed scenarios first; within each group the order they ran in.
    let mut ordered: Vec<&ScenarioReport> = report.scenarios.iter().filter(|s| !s.passed).collect();
    ordered.extend(report.scenarios.iter().filter(|s| s.passed));
    let mut facts = vec![("engine", t.t(&report.engine))];
    // Which docker CLI ran the client's steps: it picks the expectations (`[[steps.per_client]]`).
    if let Some(cli) = &report.client_cli {
        facts.push(("docker CLI", t.t(cli)));
    }
    facts.extend([
        ("started", report.started_at.clone()),
        ("run", report.run_id.clone()),
        ("steps", steps.to_string()),
    ]);
    let body = html! {
        div class="summary" data-summary=(report.summary.line()) {
            @if let Some(sig) = &report.interrupted {
                (Tone::Warn.mark(&format!("interrupted by {sig}: the steps after it did not run")))
            }
            (Tone::Good.mark(&format!("{} scenario(s) passed", report.summary.passed)))
            (if report.summary.failed > 0 { Tone::Bad } else { Tone::Quiet }.mark(&format!("{} failed", report.summary.failed)))
            span class="dim" { (secs(report.scenarios.iter().map(|s| s.duration_ms).sum())) " in all" }
        }
        @if !failed_steps.is_empty() {
            section class="failures" {
                h2 { "Failures" }
                ol {
                    @for (s, st) in &failed_steps {
                        li {
                            a href={ "#" (anchor(&s.name, st.index)) } { (s.name) " › [" (st.index) "/" (s.steps.len()) "] " (t.t(&st.title)) }
                            @if let Some(m) = &st.message { ": " span class="mono" { (t.t(m)) } }
                        }
                    }
                }
            }
        }
        nav class="toc" {
            ol {
                @for s in &ordered {
                    li { a href={ "#" (s.name) } { (status_mark(s)) " " (s.name) } }
                }
            }
        }
        @for s in &ordered { (scenario(s, &t)) }
    };
    html::page("trust-sandbox: scenario run", &facts, body)
}

fn anchor(scenario: &str, index: usize) -> String {
    format!("{scenario}-{index}")
}

fn status_mark(s: &ScenarioReport) -> Markup {
    if s.passed {
        Tone::Good.mark("passed")
    } else if s.interrupted {
        Tone::Warn.mark("interrupted")
    } else if s.aborted {
        Tone::Quiet.mark("aborted")
    } else {
        Tone::Bad.mark("failed")
    }
}

fn scenario(s: &ScenarioReport, t: &Text<'_>) -> Markup {
    let c = s.counts();
    html! {
        section class="scenario" id=(s.name) data-scenario=(s.name) {
            h2 { (status_mark(s)) " " (s.name) }
            @if !s.summary.is_empty() { p { (t.t(&s.summary)) } }
            p class="dim" {
                (c.passed) " passed, " (c.failed) " failed"
                @if c.skipped > 0 { ", " (c.skipped) " skipped" }
                @if c.not_run > 0 { ", " (c.not_run) " not run" }
                " · " (secs(s.duration_ms))
            }
            ol class="steps" {
                @for st in &s.steps { (step(s, st, t)) }
            }
        }
    }
}

fn step(s: &ScenarioReport, st: &StepReport, t: &Text<'_>) -> Markup {
    let mark = match st.status {
        StepStatus::Passed => Tone::Good.mark("passed"),
        StepStatus::Failed => Tone::Bad.mark("failed"),
        StepStatus::Skipped => Tone::Quiet.mark("skipped"),
        StepStatus::NotRun => Tone::Quiet.mark("not run"),
    };
    let evidence = evidence(st);
    html! {
        li class={ "step " (st.status.as_str()) } id=(anchor(&s.name, st.index)) data-step={ (s.name) "/" (st.index) } {
            div class="step-head" {
                (mark)
                span class="title" { "[" (st.index) "/" (s.steps.len()) "] " (t.t(&st.title)) }
                span class="chips" {
                    @if st.on.as_str() != "client" { span class="chip" { "on " (st.on.as_str()) } }
                    @if let Some(id) = &st.identity { span class="chip" { "as " (id) } }
                    @if let Some(clock) = &st.clock { span class="chip" { "clock " (clock) } }
                    @if let Some(set) = &st.expectation { span class="chip" data-expectation=(set) { "expectations: " (set) } }
                    @for (k, v) in &st.env { span class="chip" { (k) "=" (t.t(v)) } }
                    @if st.status != StepStatus::NotRun && st.status != StepStatus::Skipped { span class="chip" { (secs(st.duration_ms)) } }
                }
            }
            @if !st.explain.is_empty() { p class="dim" { (t.t(&st.explain)) } }
            pre class="command" { (t.t(&st.command)) }
            @match &st.message {
                Some(m) => p class="outcome mono" { (t.t(m)) },
                None => p class="outcome" { (outcome(st)) },
            }
            @if !st.failures.is_empty() {
                ul class="failures" {
                    @for f in &st.failures {
                        li { (t.t(&f.message)) @for line in &f.context { br; code { (t.t(line)) } } }
                    }
                }
            }
            @if !evidence.is_empty() {
                div class="evidence" {
                    span class="dim" { "recorded: " }
                    @for line in &evidence { br; code { (t.t(line)) } }
                }
            }
            @if let Some(tc) = &st.trust {
                (pair(
                    &tc.repository,
                    Shot { view: tc.before.view.as_ref(), note: tc.before.note.as_deref() },
                    Shot { view: tc.after.view.as_ref(), note: tc.after.note.as_deref() },
                    t,
                ))
            }
            @if !st.output_tail.is_empty() {
                details {
                    summary { "output (last " (st.output_tail.len()) " lines)" }
                    pre { (t.t(&st.output_tail.join("\n"))) }
                }
            }
        }
    }
}

/// What the step was expected to do, and what it did.
fn outcome(st: &StepReport) -> String {
    let expected = st.expected.effective_outcome();
    let code = st.exit_code.map(|c| format!("exit {c}")).unwrap_or_else(|| "did not run".into());
    match st.status {
        StepStatus::Passed => format!("expected {expected}: {code}"),
        StepStatus::Failed => format!("expected {expected}, got {code}"),
        StepStatus::Skipped | StepStatus::NotRun => st.note.clone().unwrap_or_else(|| st.status.as_str().into()),
    }
}

/// The message the tool recorded: the output lines the expectation looked for; for a step that
/// failed, its last lines (what it said instead).
fn evidence(st: &StepReport) -> Vec<String> {
    let e = &st.expected;
    let regexes: Vec<Regex> = e.matches.iter().filter_map(|r| Regex::new(r).ok()).collect();
    let lines = st.output_tail.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    let found: Vec<String> = lines
        .clone()
        .filter(|line| {
            e.contains.iter().chain(&e.stdout_contains).any(|c| line.contains(c.as_str()))
                || regexes.iter().any(|r| r.is_match(line))
        })
        .take(EVIDENCE_LINES)
        .map(String::from)
        .collect();
    if !found.is_empty() || st.status != StepStatus::Failed {
        return found;
    }
    let all: Vec<&str> = lines.collect();
    all[all.len().saturating_sub(EVIDENCE_LINES)..].iter().map(|l| l.to_string()).collect()
}
