//! Judging one command's result against a step's `expect` and `capture`.

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde::{Deserialize, Serialize};

use super::model::{Capture, Expect, Outcome};
use crate::engine::Output;

/// Lines shown either side of a forbidden match.
const CONTEXT_LINES: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    ExitStatus,
    Contains,
    NotContains,
    Matches,
    NotMatches,
    StdoutContains,
    Capture,
    /// A regex that only became invalid at run time.
    InvalidRegex,
    /// A `{{var}}` that had no value when the step ran.
    Interpolation,
    /// The executor could not run the command at all.
    Executor,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ExitStatus => "exit_status",
            FailureKind::Contains => "contains",
            FailureKind::NotContains => "not_contains",
            FailureKind::Matches => "matches",
            FailureKind::NotMatches => "not_matches",
            FailureKind::StdoutContains => "stdout_contains",
            FailureKind::Capture => "capture",
            FailureKind::InvalidRegex => "invalid_regex",
            FailureKind::Interpolation => "interpolation",
            FailureKind::Executor => "executor",
        }
    }
}

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    /// The output lines that show the problem, when a specific place does
    /// (a forbidden match); otherwise the output tail tells the story.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into(), context: Vec::new() }
    }
}

/// stdout then stderr, as one text; the order between the two streams is
/// lost, which is fine for "does it say X" checks.
pub fn combined(out: &Output) -> String {
    let mut text = out.stdout.clone();
    if !text.is_empty() && !text.ends_with('\n') && !out.stderr.is_empty() {
        text.push('\n');
    }
    text.push_str(&out.stderr);
    text
}

/// Checks `out` against `expect`, whose placeholders are already filled in.
/// An empty result means every expectation was met.
pub fn check(expect: &Expect, out: &Output) -> Vec<Failure> {
    let mut failures = Vec::new();
    let text = combined(out);

    let status_ok = match (expect.exit_code, expect.effective_outcome()) {
        (Some(code), _) => out.code == code,
        (None, Outcome::Success) => out.code == 0,
        (None, Outcome::Failure) => out.code != 0,
        (None, Outcome::Any) => true,
    };
    if !status_ok {
        let wanted = match (expect.exit_code, expect.effective_outcome()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Outcome::Failure) => "failure (a non-zero exit)".to_string(),
            (None, _) => "success (exit 0)".to_string(),
        };
        failures.push(Failure::new(FailureKind::ExitStatus, format!("expected {wanted}, got exit {}", out.code)));
    }

    for needle in &expect.contains {
        if !text.contains(needle.as_str()) {
            failures.push(Failure::new(FailureKind::Contains, format!("output does not contain {needle:?}")));
        }
    }
    for needle in &expect.stdout_contains {
        if !out.stdout.contains(needle.as_str()) {
            failures.push(Failure::new(FailureKind::StdoutContains, format!("stdout does not contain {needle:?}")));
        }
    }
    for needle in &expect.not_contains {
        if let Some(at) = text.find(needle.as_str()) {
            failures.push(Failure {
                kind: FailureKind::NotContains,
                message: format!("output contains forbidden {needle:?}"),
                context: lines_around(&text, at),
            });
        }
    }
    for pattern in &expect.matches {
        match Regex::new(pattern) {
            Ok(re) if re.is_match(&text) => {}
            Ok(_) => failures.push(Failure::new(FailureKind::Matches, format!("output does not match /{pattern}/"))),
            Err(e) => failures.push(invalid_regex(pattern, &e)),
        }
    }
    for pattern in &expect.not_matches {
        match Regex::new(pattern) {
            Ok(re) => {
                if let Some(m) = re.find(&text) {
                    failures.push(Failure {
                        kind: FailureKind::NotMatches,
                        message: format!("output matches forbidden /{pattern}/"),
                        context: lines_around(&text, m.start()),
                    });
                }
            }
            Err(e) => failures.push(invalid_regex(pattern, &e)),
        }
    }
    failures
}

fn invalid_regex(pattern: &str, e: &regex_lite::Error) -> Failure {
    Failure::new(FailureKind::InvalidRegex, format!("regex /{pattern}/ does not compile: {e}"))
}

/// Applies `captures` (placeholders filled in) to the output. Values found are
/// returned even when another capture fails, so keep-going runs can use them.
pub fn capture(captures: &[Capture], out: &Output) -> (BTreeMap<String, String>, Vec<Failure>) {
    let text = combined(out);
    let mut values = BTreeMap::new();
    let mut failures = Vec::new();
    for c in captures {
        match Regex::new(&c.regex) {
            Err(e) => failures.push(invalid_regex(&c.regex, &e)),
            Ok(re) => match re.captures(&text).and_then(|caps| caps.get(1)) {
                Some(m) => {
                    values.insert(c.name.clone(), m.as_str().to_string());
                }
                None => failures.push(Failure::new(
                    FailureKind::Capture,
                    format!("capture `{}`: /{}/ found nothing", c.name, c.regex),
                )),
            },
        }
    }
    (values, failures)
}

/// The line holding byte `at`, with a little context either side.
fn lines_around(text: &str, at: usize) -> Vec<String> {
    let line_no = text[..at].matches('\n').count();
    let lines: Vec<&str> = text.lines().collect();
    let first = line_no.saturating_sub(CONTEXT_LINES);
    let last = (line_no + CONTEXT_LINES + 1).min(lines.len());
    lines[first..last].iter().map(|l| l.to_string()).collect()
}

/// The last `n` lines of the combined output.
pub fn tail(out: &Output, n: usize) -> Vec<String> {
    let text = combined(out);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests;
