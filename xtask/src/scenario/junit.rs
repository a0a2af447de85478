//! JUnit XML (`--junit FILE`): one testsuite per scenario, one testcase per step.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::report::{Report, ScenarioReport, StepReport, StepStatus};

/// Escapes text for XML content and attribute values alike.
///
/// Characters XML 1.0 cannot carry at all (most C0 controls, such as the ESC
/// of a colour sequence in captured output) become U+FFFD instead of making
/// the whole file unreadable. Newlines and tabs are written as character
/// references so they survive attribute-value normalisation.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Like [`escape`] but keeps newlines literal, for readable element text.
fn escape_text(s: &str) -> String {
    s.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Renders the whole report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let steps = report.scenarios.iter().flat_map(|s| &s.steps);
    let (tests, failures, skipped) = steps.fold((0, 0, 0), |(t, f, s), step| {
        (
            t + 1,
            f + usize::from(step.status == StepStatus::Failed),
            s + usize::from(matches!(step.status, StepStatus::Skipped | StepStatus::NotRun)),
        )
    });
    let total_ms: u64 = report.scenarios.iter().map(|s| s.duration_ms).sum();
    let _ = writeln!(
        xml,
        "<testsuites name=\"trust-sandbox\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        secs(total_ms)
    );
    for scenario in &report.scenarios {
        render_suite(&mut xml, report, scenario);
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn render_suite(xml: &mut String, report: &Report, scenario: &ScenarioReport) {
    let c = scenario.counts();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        escape(&scenario.name),
        scenario.steps.len(),
        c.failed,
        c.skipped + c.not_run,
        secs(scenario.duration_ms),
        escape(report.started_at.trim_end_matches('Z')),
    );
    // A run that a signal ended says so in every suite it holds.
    let interrupted = report
        .interrupted
        .as_deref()
        .map(|sig| format!("<property name=\"interrupted\" value=\"{}\"/>", escape(sig)))
        .unwrap_or_default();
    let _ = writeln!(
        xml,
        "    <properties><property name=\"engine\" value=\"{}\"/><property name=\"run_id\" value=\"{}\"/>{interrupted}</properties>",
        escape(&report.engine),
        escape(&report.run_id)
    );
    for step in &scenario.steps {
        render_case(xml, scenario, step);
    }
    xml.push_str("  </testsuite>\n");
}

fn render_case(xml: &mut String, scenario: &ScenarioReport, step: &StepReport) {
    let _ = write!(
        xml,
        "    <testcase name=\"{}\" classname=\"trust-sandbox.{}\" time=\"{}\">",
        escape(&format!("{:02} {}", step.index, step.title)),
        escape(&scenario.name),
        secs(step.duration_ms),
    );
    match step.status {
        StepStatus::Passed => {}
        StepStatus::Failed => {
            let message = step
                .message
                .clone()
                .or_else(|| step.failures.first().map(|f| f.message.clone()))
                .unwrap_or_else(|| "failed".to_string());
            let kind = step.failures.first().map_or("failure", |f| f.kind.as_str());
            let mut body = String::new();
            for f in &step.failures {
                let _ = writeln!(body, "{}", f.message);
                for line in &f.context {
                    let _ = writeln!(body, "  | {line}");
                }
            }
            let _ = write!(
                xml,
                "\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(&message),
                escape(kind),
                escape_text(&body)
            );
        }
        StepStatus::Skipped | StepStatus::NotRun => {
            let note = step.note.as_deref().unwrap_or(step.status.as_str());
            let _ = write!(xml, "\n      <skipped message=\"{}\"/>", escape(note));
        }
    }
    if step.status != StepStatus::NotRun {
        let mut out = format!("[{}] $ {}\n", step.on, step.command);
        if let Some(code) = step.exit_code {
            let _ = writeln!(out, "exit {code}");
        }
        for line in &step.output_tail {
            let _ = writeln!(out, "{line}");
        }
        let _ = write!(xml, "\n      <system-out>{}</system-out>\n    ", escape_text(&out));
    }
    xml.push_str("</testcase>\n");
}

pub fn write(report: &Report, path: &Path) -> Result<()> {
    std::fs::write(path, render(report)).with_context(|| format!("cannot write JUnit report {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"<a & "b">'"#), "&lt;a &amp; &quot;b&quot;&gt;&apos;");
        assert_eq!(escape("plain ✓"), "plain ✓");
    }

    #[test]
    fn escapes_whitespace_and_drops_invalid_chars() {
        assert_eq!(escape("a\nb\tc"), "a&#10;b&#9;c");
        assert_eq!(escape("\u{1b}[31mred"), "\u{FFFD}[31mred");
        assert_eq!(escape_text("x<\ny"), "x&lt;\ny");
    }
}
