//! Judging one command's result against a step's `expect` and `capture`.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::model::{Capture, Expect, Outcome};
use super::runner::Output;

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

fn invalid_regex(pattern: &str, e: &regex::Error) -> Failure {
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
mod tests {
    use super::*;

    fn out(code: i32, stdout: &str, stderr: &str) -> Output {
        Output { code, stdout: stdout.into(), stderr: stderr.into() }
    }

    fn kinds(f: &[Failure]) -> Vec<FailureKind> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn default_expects_success() {
        let e = Expect::default();
        assert!(check(&e, &out(0, "", "")).is_empty());
        let f = check(&e, &out(1, "", "boom"));
        assert_eq!(kinds(&f), vec![FailureKind::ExitStatus]);
        assert_eq!(f[0].message, "expected success (exit 0), got exit 1");
    }

    #[test]
    fn outcome_failure_and_any() {
        let fail = Expect { outcome: Some(Outcome::Failure), ..Expect::default() };
        assert!(check(&fail, &out(1, "", "")).is_empty());
        assert!(check(&fail, &out(125, "", "")).is_empty());
        let f = check(&fail, &out(0, "", ""));
        assert_eq!(f[0].message, "expected failure (a non-zero exit), got exit 0");

        let any = Expect { outcome: Some(Outcome::Any), ..Expect::default() };
        assert!(check(&any, &out(0, "", "")).is_empty());
        assert!(check(&any, &out(7, "", "")).is_empty());
    }

    #[test]
    fn exact_exit_code() {
        let e = Expect { exit_code: Some(2), ..Expect::default() };
        assert_eq!(e.effective_outcome(), Outcome::Failure);
        assert!(check(&e, &out(2, "", "")).is_empty());
        let f = check(&e, &out(1, "", ""));
        assert_eq!(f[0].message, "expected exit code 2, got exit 1");
        let zero = Expect { exit_code: Some(0), ..Expect::default() };
        assert_eq!(check(&zero, &out(3, "", "")).len(), 1);
    }

    #[test]
    fn contains_looks_at_both_streams() {
        let e = Expect { contains: vec!["Successfully signed".into(), "digest".into()], ..Expect::default() };
        assert!(check(&e, &out(0, "latest: digest: sha256:ab", "Successfully signed x")).is_empty());
        let f = check(&e, &out(0, "nothing", "here"));
        assert_eq!(kinds(&f), vec![FailureKind::Contains, FailureKind::Contains]);
        assert_eq!(f[0].message, "output does not contain \"Successfully signed\"");
    }

    #[test]
    fn not_contains_reports_context() {
        let e = Expect { not_contains: vec!["Pull (1 of 1)".into()], ..Expect::default() };
        assert!(check(&e, &out(0, "plain pull", "")).is_empty());
        let text = "a\nb\nc\nPull (1 of 1): x\nd\ne\nf\ng";
        let f = check(&e, &out(0, text, ""));
        assert_eq!(kinds(&f), vec![FailureKind::NotContains]);
        assert_eq!(f[0].context, vec!["b", "c", "Pull (1 of 1): x", "d", "e"]);
    }

    #[test]
    fn matches_and_not_matches() {
        let e = Expect {
            matches: vec![r"No (valid )?trust data for latest".into()],
            not_matches: vec![r"sha256:[0-9a-f]{4}\b".into()],
            ..Expect::default()
        };
        assert!(check(&e, &out(0, "", "No valid trust data for latest")).is_empty());
        assert!(check(&e, &out(0, "", "No trust data for latest")).is_empty());
        let f = check(&e, &out(0, "first\nsha256:abcd here", "No data"));
        assert_eq!(kinds(&f), vec![FailureKind::Matches, FailureKind::NotMatches]);
        assert_eq!(f[1].context, vec!["first", "sha256:abcd here", "No data"]);
    }

    #[test]
    fn stdout_contains_ignores_stderr() {
        let e = Expect { stdout_contains: vec!["value".into()], ..Expect::default() };
        assert!(check(&e, &out(0, "value", "")).is_empty());
        let f = check(&e, &out(0, "", "value"));
        assert_eq!(kinds(&f), vec![FailureKind::StdoutContains]);
    }

    #[test]
    fn invalid_runtime_regex_is_a_failure_not_a_panic() {
        let e = Expect { matches: vec!["(".into()], ..Expect::default() };
        assert_eq!(kinds(&check(&e, &out(0, "", ""))), vec![FailureKind::InvalidRegex]);
    }

    #[test]
    fn capture_first_group() {
        let caps = vec![
            Capture { name: "digest".into(), regex: r"latest: digest: (sha256:[0-9a-f]{4})".into() },
            Capture { name: "missing".into(), regex: r"nope (x)".into() },
        ];
        let (values, failures) = capture(&caps, &out(0, "latest: digest: sha256:beef size: 1", ""));
        assert_eq!(values.get("digest").map(String::as_str), Some("sha256:beef"));
        assert_eq!(kinds(&failures), vec![FailureKind::Capture]);
    }

    #[test]
    fn combined_and_tail() {
        let o = out(0, "a\nb", "c\n");
        assert_eq!(combined(&o), "a\nb\nc\n");
        assert_eq!(tail(&o, 2), vec!["b", "c"]);
        assert_eq!(tail(&o, 10), vec!["a", "b", "c"]);
    }
}
