use std::io::Cursor;

use super::fake::{Call, FakeExecutor};
use super::*;
use crate::scenario::junit;
use crate::scenario::model::ServiceName;
use crate::scenario::report::Summary;
use crate::ui::Printer;

/// What the runner printed, read back by the test.
type Shared = crate::ui::Buffer;

fn options(log: &Shared) -> Options {
    Options {
        printer: Printer::new(Box::new(log.clone()), false),
        engine: "fake 1.0".into(),
        run_id: Some("0123abcd".into()),
        registry: "sandboxregistry:5000".into(),
        server: "https://notaryserver:4443".into(),
        ..Options::default()
    }
}

fn scenario(toml: &str) -> Scenario {
    let text = format!("name = \"t\"\nsummary = \"test\"\ndescription = \"teaches testing\"\n{toml}");
    Scenario::from_toml(&text, "test").unwrap()
}

const THREE_STEPS: &str = r#"
[[steps]]
title = "push"
explain = "pushes"
run = "docker push {{registry}}/t:{{run_id}}"
expect = { contains = ["Successfully signed"] }
capture = [{ name = "digest", regex = 'digest: (sha256:[0-9a-f]+)' }]

[[steps]]
title = "pull"
explain = "pulls"
run = "docker pull x@{{digest}}"
env = { WANT = "{{digest}}" }
expect = { contains = ["Pull (1 of 1): x@{{digest}}"] }

[[steps]]
title = "last"
explain = "ends"
run = "true"
"#;

fn statuses(r: &ScenarioReport) -> Vec<StepStatus> {
    r.steps.iter().map(|s| s.status).collect()
}

#[test]
fn captures_flow_into_later_steps() {
    let log = Shared::default();
    let exec = FakeExecutor::new()
        .then(0, "latest: digest: sha256:beef size: 1\n", "Successfully signed t\n")
        .then(0, "Pull (1 of 1): x@sha256:beef\n", "")
        .then(0, "", "");
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run(&scenario(THREE_STEPS));
    assert!(report.passed, "{}", log.text());
    assert_eq!(statuses(&report), vec![StepStatus::Passed; 3]);
    assert_eq!(report.steps[0].captures["digest"], "sha256:beef");
    assert_eq!(report.steps[1].command, "docker pull x@sha256:beef");
    let exec = runner.into_executor();
    assert_eq!(
        exec.scripts(),
        vec!["docker push sandboxregistry:5000/t:0123abcd", "docker pull x@sha256:beef", "true"]
    );
    match &exec.calls[1] {
        Call::Run { env, on, .. } => {
            assert_eq!(env, &vec![("WANT".to_string(), "sha256:beef".to_string())]);
            assert_eq!(*on, Target::named("client"));
        }
        other => panic!("unexpected call {other:?}"),
    }
    let text = log.text();
    assert!(text.contains("== t: test"), "{text}");
    assert!(text.contains("[1/3] push\n    $ docker push sandboxregistry:5000/t:0123abcd"), "{text}");
    assert!(text.contains("  ✓ succeeded as expected ("), "{text}");
    assert!(text.contains("t: 3 passed, 0 failed in 0."), "{text}");
}

#[test]
fn unmet_expectation_fails_and_later_steps_are_not_run() {
    let log = Shared::default();
    let exec = FakeExecutor::new().then(0, "no signing here\nsecond line", "");
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run(&scenario(THREE_STEPS));
    assert!(!report.passed);
    assert_eq!(statuses(&report), vec![StepStatus::Failed, StepStatus::NotRun, StepStatus::NotRun]);
    assert_eq!(report.steps[1].note.as_deref(), Some("not run: step 1 failed"));
    // The not-run step cannot show a value that was never captured.
    assert_eq!(report.steps[1].command, "docker pull x@{{digest}}");
    assert_eq!(runner.into_executor().calls.len(), 1);
    let text = log.text();
    assert!(text.contains("✗ output does not contain \"Successfully signed\""), "{text}");
    assert!(text.contains("· capture `digest`"), "{text}");
    assert!(text.contains("│ no signing here\n    │ second line"), "{text}");
    assert!(text.contains("[2/3] pull — not run"), "{text}");
    assert!(text.contains("t: 0 passed, 1 failed, 2 not run"), "{text}");
}

#[test]
fn wrong_exit_status_headline() {
    let log = Shared::default();
    let s = scenario(
        r#"
[[steps]]
title = "pull before signing"
explain = "refused"
run = "docker pull x"
expect = { outcome = "failure", contains = ["does not have trust data"] }
"#,
    );
    let exec = FakeExecutor::new().then(0, "pulled fine", "");
    let report = Runner::new(exec, options(&log)).run(&s);
    let text = log.text();
    assert!(text.contains("  ✗ expected failure containing \"does not have trust data\", got exit 0 ("), "{text}");
    assert!(text.contains("    · output does not contain \"does not have trust data\""), "{text}");
    assert_eq!(
        report.steps[0].message.as_deref(),
        Some("expected failure containing \"does not have trust data\", got exit 0")
    );
    assert_eq!(report.steps[0].exit_code, Some(0));
}

#[test]
fn expected_failure_passes() {
    let log = Shared::default();
    let s = scenario(
        r#"
[[steps]]
title = "refused"
explain = "refused"
run = "docker pull x"
expect = { outcome = "failure", matches = ['No (valid )?trust data for latest'] }
"#,
    );
    let exec = FakeExecutor::new().then(1, "", "Error: No valid trust data for latest");
    let report = Runner::new(exec, options(&log)).run(&s);
    assert!(report.passed, "{}", log.text());
    assert!(log.text().contains("✓ failed as expected, exit 1"));
}

#[test]
fn keep_going_runs_every_step() {
    let log = Shared::default();
    let exec = FakeExecutor::new().then(1, "", "boom").then(0, "", "").then(0, "", "");
    let mut opts = options(&log);
    opts.keep_going = true;
    let s = scenario(
        r#"
[[steps]]
title = "a"
explain = "a"
run = "false"
[[steps]]
title = "b"
explain = "b"
run = "true"
[[steps]]
title = "c"
explain = "c"
run = "true"
"#,
    );
    let mut runner = Runner::new(exec, opts);
    let report = runner.run(&s);
    assert!(!report.passed);
    assert_eq!(statuses(&report), vec![StepStatus::Failed, StepStatus::Passed, StepStatus::Passed]);
    assert_eq!(runner.into_executor().calls.len(), 3);
}

#[test]
fn skipped_capture_makes_a_later_use_fail_clearly() {
    let log = Shared::default();
    let mut opts = options(&log);
    opts.keep_going = true;
    opts.step = Some(StepMode { input: Box::new(Cursor::new("s\n\n\n")), prompt: Box::new(log.clone()) });
    let report = Runner::new(FakeExecutor::new().then(0, "", ""), opts).run(&scenario(THREE_STEPS));
    assert_eq!(statuses(&report), vec![StepStatus::Skipped, StepStatus::Failed, StepStatus::Passed]);
    let f = &report.steps[1].failures[0];
    assert_eq!(f.kind, FailureKind::Interpolation);
    assert!(f.message.contains("unknown variable `{{digest}}`"), "{}", f.message);
}

#[test]
fn executor_error_fails_the_step() {
    let log = Shared::default();
    let exec = FakeExecutor::new().then_err("container notarysandbox is not running");
    let report = Runner::new(exec, options(&log)).run(&scenario(THREE_STEPS));
    let step = &report.steps[0];
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(step.exit_code, None);
    assert_eq!(step.failures[0].kind, FailureKind::Executor);
    assert!(log.text().contains("could not run the step: container notarysandbox is not running"));
}

#[test]
fn engine_actions_and_run_parameters_reach_the_executor() {
    let log = Shared::default();
    let s = scenario(
        r#"
requires = ["faketime"]
[[steps]]
title = "stop the signer"
explain = "signing must fail"
on = "engine"
action = { stop = "notarysigner" }
[[steps]]
title = "sign as alice in the future"
explain = "expired"
identity = "alice"
clock = "+400d"
run = "docker trust sign x"
expect = { outcome = "any" }
[[steps]]
title = "look at the blob"
explain = "registry side"
on = "registry"
run = "ls"
"#,
    );
    let exec = FakeExecutor::new().then(0, "", "").then(5, "", "").then(0, "", "");
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run(&s);
    assert!(report.passed, "{}", log.text());
    assert_eq!(report.steps[0].command, "stop notarysigner");
    let calls = runner.into_executor().calls;
    assert_eq!(calls[0], Call::Action(Action::Stop(ServiceName::named("notarysigner"))));
    assert_eq!(
        calls[1],
        Call::Run {
            on: Target::named("client"),
            identity: Some("alice".into()),
            script: "docker trust sign x".into(),
            env: vec![],
            clock: Some("+400d".into()),
        }
    );
    assert!(matches!(&calls[2], Call::Run { on, .. } if *on == Target::named("registry")));
    let text = log.text();
    assert!(text.contains("(as alice, clock +400d)"), "{text}");
    assert!(text.contains("(on registry)"), "{text}");
    assert!(text.contains("✓ finished, exit 5"), "{text}");
}

const SECRET: &str = "s3cr3t-passphrase";

fn leaky_run(log: &Shared) -> Report {
    let mut opts = options(log);
    opts.secrets = vec![SECRET.into(), String::new()];
    let s = scenario(&format!(
        r#"
[[steps]]
title = "echo"
explain = "leaks"
run = "echo {SECRET}"
env = {{ PASS = "{SECRET}" }}
expect = {{ contains = ["nothing"] }}
capture = [{{ name = "pw", regex = 'pw=(\S+)' }}]
"#
    ));
    let exec = FakeExecutor::new().then(0, &format!("pw={SECRET}\n"), &format!("using {SECRET}"));
    let mut runner = Runner::new(exec, opts);
    let scen = runner.run(&s);
    runner.report(vec![scen])
}

#[test]
fn secrets_are_masked_in_log_json_and_junit() {
    let log = Shared::default();
    let report = leaky_run(&log);
    let text = log.text();
    let json = serde_json::to_string_pretty(&report).unwrap();
    let xml = junit::render(&report);
    for (what, out) in [("log", &text), ("json", &json), ("junit", &xml)] {
        assert!(!out.contains(SECRET), "{what} leaks the secret:\n{out}");
        assert!(out.contains("***"), "{what} shows no mask:\n{out}");
    }
    let step = &report.scenarios[0].steps[0];
    assert_eq!(step.command, "echo ***");
    assert_eq!(step.env["PASS"], "***");
    assert_eq!(step.captures["pw"], "***");
    assert_eq!(step.output_tail, vec!["pw=***", "using ***"]);
}

#[test]
fn masker_prefers_the_longest_secret() {
    let m = Masker::new(&["abc".into(), "abcdef".into(), String::new()]);
    assert_eq!(m.mask("x abcdef abc y"), "x *** *** y");
    assert_eq!(m.mask("nothing"), "nothing");
}

#[test]
fn report_round_trips_with_schema() {
    let log = Shared::default();
    let exec = FakeExecutor::new().then(0, "latest: digest: sha256:beef\n", "Successfully signed\n").then(
        1,
        "",
        "<&\"> broke",
    );
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run_all(&[scenario(THREE_STEPS)]);
    assert_eq!(report.schema, "trust-sandbox/scenario-report/v1");
    assert_eq!(report.engine, "fake 1.0");
    assert_eq!(report.run_id, "0123abcd");
    let re = regex_lite::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap();
    assert!(re.is_match(&report.started_at), "{}", report.started_at);
    assert_eq!(report.summary, Summary { passed: 0, failed: 1 });

    let json = serde_json::to_string_pretty(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["schema"], "trust-sandbox/scenario-report/v1");
    assert_eq!(value["scenarios"][0]["steps"][0]["status"], "passed");
    assert_eq!(value["scenarios"][0]["steps"][1]["status"], "failed");
    assert_eq!(value["scenarios"][0]["steps"][2]["status"], "not-run");
    assert_eq!(value["scenarios"][0]["steps"][0]["expected"]["outcome"], "success");
    assert_eq!(value["summary"]["failed"], 1);
    assert_eq!(Report::from_json(&json).unwrap(), report);

    let other = json.replace("scenario-report/v1", "scenario-report/v9");
    assert!(Report::from_json(&other).unwrap_err().to_string().contains("v9"));
    assert!(log.text().ends_with("\n0 passed, 1 failed\n"), "{}", log.text());
}

#[test]
fn junit_has_suites_cases_failures_and_skips() {
    let log = Shared::default();
    let exec = FakeExecutor::new().then(0, "latest: digest: sha256:beef\n", "Successfully signed\n").then(
        1,
        "",
        "<&\"> broke",
    );
    let mut runner = Runner::new(exec, options(&log));
    let mut s = scenario(THREE_STEPS);
    s.steps[1].title = "pull <&\"'>".into();
    let report = runner.run_all(&[s]);
    let xml = junit::render(&report);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{xml}");
    assert!(xml.contains("<testsuite name=\"t\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{xml}");
    assert!(
        xml.contains("<testcase name=\"02 pull &lt;&amp;&quot;&apos;&gt;\" classname=\"trust-sandbox.t\""),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<failure message=\"expected success containing &quot;Pull (1 of 1): x@sha256:beef&quot;, \
                 got exit 1\" type=\"exit_status\">"
        ),
        "{xml}"
    );
    assert!(xml.contains("&lt;&amp;&quot;&gt; broke"), "{xml}");
    assert!(xml.contains("<skipped message=\"not run: step 2 failed\"/>"), "{xml}");
    assert!(!xml.contains("<&"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 3);
    assert_eq!(xml.matches("</testcase>").count(), 3);
}

fn step_mode_run(input: &str) -> (ScenarioReport, Vec<String>, String, bool) {
    let log = Shared::default();
    let prompt = Shared::default();
    let mut opts = options(&log);
    opts.step = Some(StepMode { input: Box::new(Cursor::new(input.to_string())), prompt: Box::new(prompt.clone()) });
    let s = scenario(
        r#"
[[steps]]
title = "one"
explain = "First we do one thing."
run = "echo one"
[[steps]]
title = "two"
explain = "Then another."
run = "echo two"
[[steps]]
title = "three"
explain = "And a third."
run = "echo three"
"#,
    );
    let exec = FakeExecutor::new().then(0, "one\n", "").then(0, "two\n", "").then(0, "three\n", "");
    let mut runner = Runner::new(exec, opts);
    let report = runner.run(&s);
    let aborted = runner.aborted();
    let scripts = runner.into_executor().scripts();
    (report, scripts, prompt.text() + "\n--- log ---\n" + &log.text(), aborted)
}

#[test]
fn step_mode_enter_runs_each_step() {
    let (report, scripts, text, aborted) = step_mode_run("\n\n\n");
    assert!(report.passed);
    assert!(!aborted);
    assert_eq!(scripts, vec!["echo one", "echo two", "echo three"]);
    assert!(text.contains("teaches testing"), "{text}");
    assert!(
        text.contains("[2/3] two\n   Then another.\n    $ echo two\n  [Enter] run, [s] skip, [q] quit: "),
        "{text}"
    );
    // In step mode a passing step's output is shown too.
    assert!(text.contains("    │ two"), "{text}");
}

#[test]
fn step_mode_s_skips() {
    let (report, scripts, text, _) = step_mode_run("\ns\n\n");
    assert!(report.passed);
    assert_eq!(statuses(&report), vec![StepStatus::Passed, StepStatus::Skipped, StepStatus::Passed]);
    assert_eq!(scripts, vec!["echo one", "echo three"]);
    assert!(text.contains("  - skipped"), "{text}");
    assert!(text.contains("t: 2 passed, 0 failed, 1 skipped"), "{text}");
}

#[test]
fn step_mode_q_aborts_the_rest() {
    let (report, scripts, text, aborted) = step_mode_run("\nq\n");
    assert!(aborted);
    assert!(report.aborted);
    assert!(!report.passed);
    assert_eq!(scripts, vec!["echo one"]);
    assert_eq!(statuses(&report), vec![StepStatus::Passed, StepStatus::NotRun, StepStatus::NotRun]);
    assert_eq!(report.steps[1].note.as_deref(), Some("not run: aborted at the prompt"));
    assert!(text.contains("t: 1 passed, 0 failed, 2 not run (aborted)"), "{text}");
}

#[test]
fn step_mode_eof_aborts() {
    let (report, scripts, _, aborted) = step_mode_run("");
    assert!(aborted);
    assert!(scripts.is_empty());
    assert_eq!(statuses(&report), vec![StepStatus::NotRun; 3]);
}

#[test]
fn step_mode_reprompts_on_unknown_answer() {
    let (report, scripts, text, _) = step_mode_run("what\n\nS\nQUIT\n");
    assert_eq!(scripts, vec!["echo one"]);
    assert_eq!(statuses(&report), vec![StepStatus::Passed, StepStatus::Skipped, StepStatus::NotRun]);
    assert!(text.contains("unknown answer \"what\""), "{text}");
}

#[test]
fn abort_leaves_later_scenarios_not_run() {
    let log = Shared::default();
    let mut opts = options(&log);
    opts.step = Some(StepMode { input: Box::new(Cursor::new("q\n")), prompt: Box::new(log.clone()) });
    let s = scenario(THREE_STEPS);
    let mut runner = Runner::new(FakeExecutor::new(), opts);
    let report = runner.run_all(&[s.clone(), s]);
    assert_eq!(report.summary, Summary { passed: 0, failed: 2 });
    assert!(report.scenarios[1].aborted);
    assert_eq!(statuses(&report.scenarios[1]), vec![StepStatus::NotRun; 3]);
    assert!(runner.into_executor().calls.is_empty());
}

#[test]
fn colour_only_when_asked() {
    let log = Shared::default();
    let mut opts = options(&log);
    opts.printer = Printer::new(Box::new(log.clone()), true);
    let s = scenario(THREE_STEPS);
    let exec = FakeExecutor::new().then(0, "", "");
    Runner::new(exec, opts).run(&s);
    assert!(log.text().contains("\x1b[31m✗\x1b[0m"), "{}", log.text());

    let plain = Shared::default();
    Runner::new(FakeExecutor::new().then(0, "", ""), options(&plain)).run(&s);
    assert!(!plain.text().contains('\x1b'));
}

#[test]
fn run_ids_are_eight_lowercase_hex_digits() {
    let a = new_run_id();
    assert_eq!(a.len(), 8);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let opts = Options { run_id: None, registry: "r:1".into(), server: "https://s:2".into(), ..Options::default() };
    let runner = Runner::new(FakeExecutor::new(), opts);
    assert_eq!(runner.run_id().len(), 8);
    assert_eq!(runner.builtins()["registry"], "r:1");
    assert_eq!(runner.builtins()["server"], "https://s:2");
    assert_eq!(runner.builtins()["run_id"], runner.run_id());
}

#[test]
fn a_scenario_is_begun_and_ended_around_its_steps() {
    let log = Shared::default();
    let exec = FakeExecutor::new().then(1, "", "boom");
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run(&scenario(THREE_STEPS));
    assert!(!report.passed);
    assert_eq!(runner.into_executor().lifecycle, vec!["begin t", "end t"]);
}

#[test]
fn a_failed_begin_runs_no_step_and_still_ends() {
    let log = Shared::default();
    let mut exec = FakeExecutor::new();
    exec.begin_error = Some("image `nix` is not one the sandbox runs".into());
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run(&scenario(THREE_STEPS));
    assert!(!report.passed);
    assert_eq!(statuses(&report), vec![StepStatus::NotRun; 3]);
    assert!(report.steps[0]
        .note
        .as_deref()
        .unwrap()
        .contains("could not start the scenario's containers: image `nix`"));
    let exec = runner.into_executor();
    assert!(exec.calls.is_empty());
    assert_eq!(exec.lifecycle, vec!["begin t", "end t"]);
    assert!(log
        .text()
        .contains("✗ could not start the scenario's containers: image `nix` is not one the sandbox runs"));
}

const PER_CLIENT: &str = r#"
[[steps]]
title = "remove"
explain = "removes alice"
run = "docker trust signer remove --force alice r"
expect = { contains = ["Successfully removed alice"] }

[[steps.per_client]]
cli = ">=26"
why = "26 and later skip the removal"
expect = { contains = ['Removing signer "alice"'], not_contains = ["Successfully removed"] }

[[steps]]
title = "plain"
explain = "no alternatives"
run = "true"
"#;

fn run_on_client(cli: Option<&str>, stdout: &str) -> (ScenarioReport, Report, String) {
    let log = Shared::default();
    let exec = FakeExecutor::new().then(0, stdout, "").then(0, "", "");
    let mut runner = Runner::new(exec, Options { client_cli: cli.map(String::from), ..options(&log) });
    let report = runner.run_all(&[scenario(PER_CLIENT)]);
    (report.scenarios[0].clone(), report, log.text())
}

#[test]
fn the_clients_release_picks_the_expectation_and_every_output_names_it() {
    let (s, report, text) = run_on_client(Some("28.5.2+dfsg4"), "Removing signer \"alice\" from r...\n");
    assert!(s.passed, "{text}");
    assert_eq!(s.steps[0].expectation.as_deref(), Some("docker CLI >=26"));
    assert_eq!(s.steps[0].expected.contains, ["Removing signer \"alice\""]);
    assert_eq!(s.steps[1].expectation, None, "a step without alternatives names none");
    assert_eq!(report.client_cli.as_deref(), Some("28.5.2+dfsg4"));
    assert!(text.contains("docker CLI in the client: 28.5.2+dfsg4"), "{text}");
    assert!(text.contains("[1/2] remove\n    (expect: docker CLI >=26)\n"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["client_cli"], "28.5.2+dfsg4");
    assert_eq!(json["scenarios"][0]["steps"][0]["expectation"], "docker CLI >=26");
    let xml = junit::render(&report);
    assert!(xml.contains("<property name=\"client_cli\" value=\"28.5.2+dfsg4\"/>"), "{xml}");
    assert!(xml.contains("<property name=\"expectation\" value=\"docker CLI &gt;=26\"/>"), "{xml}");

    // The same output is a failure for 20.10, judged by the default set.
    let (s, _, text) = run_on_client(Some("20.10.24+dfsg1"), "Removing signer \"alice\" from r...\n");
    assert!(!s.passed);
    assert_eq!(s.steps[0].expectation.as_deref(), Some("default"));
    assert!(text.contains("(expect: default)"), "{text}");
    // No client release known (a fake executor, a unit test): the default, and nothing printed.
    let (s, report, text) = run_on_client(None, "Successfully removed alice from r\n");
    assert!(s.passed && report.client_cli.is_none());
    assert!(!text.contains("docker CLI in the client"), "{text}");
}

#[test]
fn trust_steps_carry_the_tree_before_and_after_when_snapshots_are_wanted() {
    let toml = r#"
[[steps]]
title = "rotate"
explain = "rotates"
run = "notary key rotate"
trust = "{{registry}}/test/rotate"

[[steps]]
title = "bob follows"
explain = "pulls"
identity = "bob"
run = "docker pull"
trust = { repository = "{{registry}}/test/rotate", identity = "bob" }
"#;
    let s = scenario(toml);
    let view = crate::html::tests::sample_view();
    let log = Shared::default();
    let mut exec = FakeExecutor::new().then(0, "", "").then(0, "", "");
    exec.trust_views.extend([
        Err(anyhow::anyhow!("no trust data for it")),
        Ok(view.clone()),
        Ok(view.clone()),
        Ok(view.clone()),
    ]);
    let opts = Options { trust_snapshots: true, ..options(&log) };
    let mut runner = Runner::new(exec, opts);
    let report = runner.run(&s);
    assert_eq!(statuses(&report), [StepStatus::Passed, StepStatus::Passed]);
    let first = report.steps[0].trust.as_ref().unwrap();
    assert_eq!(first.repository, "sandboxregistry:5000/test/rotate");
    assert_eq!(first.before.note.as_deref(), Some("no trust data for it"), "a failed look is a note, not a failure");
    assert_eq!(first.after.view.as_ref(), Some(&view));
    assert_eq!(report.steps[1].trust.as_ref().unwrap().identity.as_deref(), Some("bob"));
    let exec = runner.into_executor();
    assert_eq!(
        exec.trust_calls,
        [
            ("sandboxregistry:5000/test/rotate".to_string(), None),
            ("sandboxregistry:5000/test/rotate".to_string(), None),
            ("sandboxregistry:5000/test/rotate".to_string(), Some("bob".to_string())),
            ("sandboxregistry:5000/test/rotate".to_string(), Some("bob".to_string())),
        ]
    );

    // Without an HTML report nothing is looked at.
    let log = Shared::default();
    let mut runner = Runner::new(FakeExecutor::new().then(0, "", "").then(0, "", ""), options(&log));
    let report = runner.run(&s);
    assert!(report.steps.iter().all(|st| st.trust.is_none()));
    assert!(runner.into_executor().trust_calls.is_empty());
}

#[test]
fn a_trust_repository_must_use_defined_placeholders_and_a_slug_identity() {
    let text = |trust: &str| {
        format!("name = \"t\"\nsummary = \"s\"\ndescription = \"d\"\n[[steps]]\ntitle = \"x\"\nexplain = \"e\"\nrun = \"true\"\ntrust = {trust}\n")
    };
    let err = format!("{:#}", Scenario::from_toml(&text("\"{{nope}}/x\""), "t").unwrap_err());
    assert!(err.contains("trust uses `{{nope}}`"), "{err}");
    let err =
        format!("{:#}", Scenario::from_toml(&text("{ repository = \"r/x\", identity = \"Bob\" }"), "t").unwrap_err());
    assert!(err.contains("trust: invalid identity \"Bob\""), "{err}");
    assert!(Scenario::from_toml(&text("\"{{registry}}/x\""), "t").is_ok());
}

/// A signal during step 1 of the first scenario: nothing more runs, the scenario still ends (its
/// containers go), the next one never begins, and every report says why.
#[test]
fn an_interruption_stops_every_later_step_and_scenario_but_not_the_cleanup() {
    let log = Shared::default();
    let mut exec = FakeExecutor::new().then_err("interrupted by SIGTERM: killed the step's 2 process(es) in ts-client");
    exec.interrupt_after = Some(1);
    let mut runner = Runner::new(exec, options(&log));
    let mut second = scenario(THREE_STEPS);
    second.name = "second".into();
    let mut report = runner.run_all(&[scenario(THREE_STEPS), second]);
    let exec = runner.into_executor();
    assert_eq!(exec.calls.len(), 1, "no step ran after the signal");
    assert_eq!(exec.lifecycle, ["begin t", "end t"], "the first ends, the second never begins");
    let first = &report.scenarios[0];
    assert!(first.interrupted && !first.passed);
    assert_eq!(statuses(first), [StepStatus::Failed, StepStatus::NotRun, StepStatus::NotRun]);
    assert!(first.steps[0].failures[0].message.contains("interrupted by SIGTERM: killed the step's 2 process(es)"));
    assert_eq!(first.steps[1].note.as_deref(), Some("not run: interrupted by SIGTERM"));
    let second = &report.scenarios[1];
    assert!(second.interrupted && second.steps.iter().all(|s| s.status == StepStatus::NotRun));
    let text = log.text();
    assert!(text.contains("t: 0 passed, 1 failed, 2 not run (interrupted)"), "{text}");
    assert!(!text.contains("second"), "a scenario that never began prints nothing:\n{text}");
    assert!(!text.contains("— not run"), "no line per step not run after a signal:\n{text}");

    // The session marks the report; JSON and JUnit carry it.
    report.interrupted = Some("SIGTERM".into());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["interrupted"], "SIGTERM");
    assert_eq!(json["scenarios"][0]["interrupted"], true);
    assert!(junit::render(&report).contains("<property name=\"interrupted\" value=\"SIGTERM\"/>"));
}

#[test]
fn a_run_that_ends_by_itself_carries_no_interruption() {
    let log = Shared::default();
    let exec = FakeExecutor::new()
        .then(0, "latest: digest: sha256:beef size: 1\n", "Successfully signed t\n")
        .then(0, "Pull (1 of 1): x@sha256:beef\n", "")
        .then(0, "", "");
    let report = Runner::new(exec, options(&log)).run_all(&[scenario(THREE_STEPS)]);
    assert!(report.scenarios[0].passed);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json.get("interrupted").is_none() && json["scenarios"][0].get("interrupted").is_none(), "{json}");
    assert!(!junit::render(&report).contains("interrupted"));
}

/// A long script is shown shortened, in the terminal and the reports; the JSON keeps its size
/// and hash, and the whole script is what runs.
#[test]
fn a_long_script_is_shown_shortened_with_its_size_and_hash() {
    let log = Shared::default();
    let line = format!("echo {}", "x".repeat(300));
    let long = vec![line.as_str(); 300].join("\n");
    let toml = format!("[[steps]]\ntitle = \"long\"\nexplain = \"a long script\"\nrun = '''\n{long}\n'''\n");
    let exec = FakeExecutor::new().then(0, "", "");
    let mut runner = Runner::new(exec, options(&log));
    let report = runner.run_all(&[scenario(&toml)]);
    let step = &report.scenarios[0].steps[0];
    let shortened = step.command_shortened.as_ref().expect("marked as shortened");
    assert_eq!((shortened.bytes, shortened.lines), (long.len(), 300));
    use sha2::Digest;
    assert_eq!(shortened.sha256, crate::util::hex(&sha2::Sha256::digest(long.as_bytes())));
    assert!(step.command.len() < 4000, "{} bytes shown", step.command.len());
    let closing = format!("… shortened: {} bytes, 300 lines in all, sha256 {}", long.len(), &shortened.sha256[..16]);
    assert!(step.command.ends_with(&closing), "{}", step.command);
    let text = log.text();
    assert!(text.len() < 6000 && text.contains(&closing), "the terminal got {} bytes:\n{text}", text.len());
    assert_eq!(runner.into_executor().scripts()[0], long, "the whole script runs");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["scenarios"][0]["steps"][0]["command_shortened"]["bytes"], long.len());
}
