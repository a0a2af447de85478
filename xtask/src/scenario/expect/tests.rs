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
