//! The pages as a reader gets them: rendered from fixed reports, every step, cell, record and
//! role must be in the page, failures come first, secrets are masked, and nothing in the page
//! reaches the network or runs a script.

use regex::Regex;

use crate::migrate::compare::{Cell, Expected, Matrix, MeasuredCell, MeasuredRow, Row, Verdict};
use crate::migrate::{Outcome, Record, Report as MigrateReport, Unsigned};
use crate::scenario::expect::{Failure, FailureKind};
use crate::scenario::mask::Masker;
use crate::scenario::model::{Expect, Outcome as StepOutcome, Target};
use crate::scenario::report::{Report, ScenarioReport, StepReport, StepStatus, TrustChange, TrustShot};
use crate::trust::view::{build, compare, Source, TrustView};

const SECRET: &str = "5f3c9a0e1b7d2c4a6e8f";

/// The view of a repository after `signer remove`, compared with a client cache that is one
/// timestamp behind.
pub fn sample_view() -> TrustView {
    let (files, _) = crate::trust::view::tests::repository();
    let mut v =
        build("sandboxregistry:5000/test/rotate", Source::Server, &files, &[], crate::trust::view::tests::now());
    let mut cache = files.clone();
    cache.remove("timestamp");
    compare(&mut v, Source::Cache { identity: None }, &cache);
    v
}

fn step(index: usize, title: &str, status: StepStatus) -> StepReport {
    StepReport {
        index,
        title: title.into(),
        explain: format!("explains {title}"),
        on: Target::Client,
        identity: None,
        command: format!("docker push sandboxregistry:5000/test/{index}"),
        env: Default::default(),
        clock: None,
        status,
        exit_code: Some(if status == StepStatus::Failed { 1 } else { 0 }),
        duration_ms: 160,
        expected: Expect {
            outcome: Some(StepOutcome::Success),
            contains: vec!["Successfully signed".into()],
            ..Default::default()
        },
        message: (status == StepStatus::Failed).then(|| "expected success, got exit 1".to_string()),
        failures: if status == StepStatus::Failed {
            vec![Failure::new(FailureKind::ExitStatus, "exit 1")]
        } else {
            vec![]
        },
        note: None,
        captures: Default::default(),
        output_tail: vec!["Successfully signed sandboxregistry:5000/test/x:latest".into(), format!("leaked {SECRET}")],
        trust: None,
    }
}

fn scenario_report() -> Report {
    let mut rotation = step(2, "rotate the keys", StepStatus::Passed);
    let before = TrustShot { view: None, note: Some("the Notary server has no trust data for it".into()) };
    rotation.trust = Some(TrustChange {
        repository: "sandboxregistry:5000/test/rotate".into(),
        identity: None,
        before,
        after: TrustShot { view: Some(sample_view()), note: None },
    });
    let passed = ScenarioReport {
        name: "key-rotation".into(),
        summary: "rotates".into(),
        passed: true,
        aborted: false,
        duration_ms: 900,
        steps: vec![step(1, "sign version 1", StepStatus::Passed), rotation],
    };
    let failed = ScenarioReport {
        name: "guide".into(),
        summary: "the guide".into(),
        passed: false,
        aborted: false,
        duration_ms: 500,
        steps: vec![
            step(1, "start clean", StepStatus::Passed),
            step(2, "push and sign", StepStatus::Failed),
            step(3, "pull by signature", StepStatus::NotRun),
        ],
    };
    Report::new("docker 20.10", "2026-01-01T00:00:00Z", "0123abcd", vec![passed, failed])
}

/// Nothing reaches the network: no scheme-relative or http(s) src/href, no @import, no url() to
/// a host, and no script at all.
fn assert_self_contained(page: &str) {
    let external = Regex::new(
        r#"(?i)(src|href)\s*=\s*["']?\s*(https?:|//)|@import|url\(\s*["']?\s*(https?:|//)|<script|<link|<iframe"#,
    )
    .unwrap();
    if let Some(m) = external.find(page) {
        panic!("the page reaches out: {:?}", &page[m.start().saturating_sub(40)..(m.end() + 40).min(page.len())]);
    }
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..60]);
    assert!(page.contains("@page { size: A4"), "prints on A4");
}

/// Every mark is a shape and a word.
fn assert_marks_have_words(page: &str) {
    let mark =
        Regex::new(r#"<span class="mark (\w+)"><svg[^>]*>.*?</svg><span class="word">([^<]+)</span></span>"#).unwrap();
    let all = page.matches("class=\"mark ").count();
    assert!(all > 0);
    assert_eq!(mark.find_iter(page).count(), all, "a mark without a shape or a word");
}

#[test]
fn the_scenario_page_has_every_step_and_role_with_failures_first() {
    let report = scenario_report();
    let page = crate::scenario::html::render(&report, &Masker::new(&[SECRET.to_string()]));
    assert_self_contained(&page);
    assert_marks_have_words(&page);
    for s in &report.scenarios {
        assert!(page.contains(&format!("data-scenario=\"{}\"", s.name)), "{}", s.name);
        for st in &s.steps {
            assert!(page.contains(&format!("data-step=\"{}/{}\"", s.name, st.index)), "{} {}", s.name, st.index);
            assert!(page.contains(&st.title), "{}", st.title);
            assert!(page.contains(&st.command), "{}", st.command);
        }
    }
    // The failure is summed up at the top, and the failed scenario comes before the passed one.
    let failures = page.find("<section class=\"failures\">").expect("a failures section");
    let guide = page.find("data-scenario=\"guide\"").unwrap();
    let rotation = page.find("data-scenario=\"key-rotation\"").unwrap();
    assert!(failures < guide && guide < rotation, "failures first");
    assert!(page.contains("expected success, got exit 1"));
    assert!(page.contains("class=\"mark bad\""));
    // The recorded message is the line the expectation looked for.
    assert!(
        page.contains("recorded: </span><br><code>Successfully signed sandboxregistry:5000/test/x:latest</code>"),
        "{page}"
    );
    // The trust tree after the rotation step: every role, the change marks, the stale timestamp.
    assert!(page.contains("data-trust=\"sandboxregistry:5000/test/rotate\""));
    for role in ["root", "targets", "targets/releases", "targets/alice", "snapshot", "timestamp"] {
        assert!(page.contains(&format!("data-role=\"{role}\"")), "{role}");
    }
    assert!(page.contains("6 role(s) changed"), "all new after no trust data");
    assert!(
        page.contains("the client&#39;s cache has none") || page.contains("the client's cache has none"),
        "timestamp compared"
    );
    assert!(page.contains("no longer delegated"));
    assert!(!page.contains(SECRET), "a secret reached the page");
    assert!(page.contains("leaked ***"));
}

#[test]
fn text_is_escaped_by_construction() {
    let mut report = scenario_report();
    report.scenarios[0].steps[0].title = "<img src=http://x.example/a.png>".into();
    report.scenarios[0].steps[0].command = "echo '</pre><script>alert(1)</script>'".into();
    let page = crate::scenario::html::render(&report, &Masker::new(&[]));
    assert!(!page.contains("<img") && !page.contains("<script>"), "markup from a report reached the page");
    assert!(page.contains("&lt;img src=http://x.example/a.png&gt;"));
    assert_self_contained(&page.replace("&lt;img src=http://x.example/a.png&gt;", ""));
}

fn cell(tool: &str, verdict: Verdict, as_recorded: bool) -> MeasuredCell {
    MeasuredCell {
        tool: tool.into(),
        verdict,
        exit_code: if verdict == Verdict::Refused { 1 } else { 0 },
        message: format!("{tool} says {SECRET}"),
        as_recorded,
        recorded: Cell { verdict: Verdict::Refused, message: "recorded line".into() },
        seconds: 0.25,
    }
}

fn matrix() -> (Matrix, Expected) {
    let row = |id: &str, cells: Vec<MeasuredCell>| MeasuredRow {
        id: id.into(),
        attack: format!("attack {id}"),
        repository: format!("sandboxregistry:5000/compare/{id}"),
        signed_digest: format!("sha256:{}", "a".repeat(64)),
        attacker_digest: format!("sha256:{}", "b".repeat(64)),
        cells,
    };
    let m = Matrix {
        sandbox: "s".into(),
        clock_shift: "+15d".into(),
        rows: vec![
            row(
                "tag-moved",
                vec![
                    cell("dct", Verdict::Refused, true),
                    cell("cosign", Verdict::Accepted, true),
                    cell("notation", Verdict::Refused, true),
                ],
            ),
            // A column only one row has: columns come from the data.
            row(
                "tag-rollback",
                vec![
                    cell("dct", Verdict::Refused, true),
                    cell("cosign", Verdict::Accepted, false),
                    cell("kyverno", Verdict::Accepted, true),
                ],
            ),
        ],
        as_recorded: false,
    };
    let recorded = |id: &str| Row {
        id: id.into(),
        attack: format!("attack {id}"),
        how: format!("how {id}"),
        dct: Cell { verdict: Verdict::Refused, message: "m".into() },
        cosign: Cell { verdict: Verdict::Refused, message: "m".into() },
        notation: Cell { verdict: Verdict::Refused, message: "m".into() },
        note: format!("why {id}"),
    };
    (m, Expected { rows: vec![recorded("tag-moved"), recorded("tag-rollback")] })
}

#[test]
fn the_compare_page_is_a_grid_with_every_cell_and_its_evidence() {
    let (m, e) = matrix();
    let page = crate::migrate::html::render_compare(&m, &e, &Masker::new(&[SECRET.to_string()]));
    assert_self_contained(&page);
    assert_marks_have_words(&page);
    for r in &m.rows {
        assert!(page.contains(&format!("data-row=\"{}\"", r.id)));
        for c in &r.cells {
            let at = page
                .find(&format!("data-cell=\"{}/{}\"", r.id, c.tool))
                .unwrap_or_else(|| panic!("{}/{}", r.id, c.tool));
            let cell = &page[at..at + page[at..].find("</td>").unwrap()];
            let word = if c.verdict == Verdict::Refused { "refused" } else { "accepted" };
            assert!(cell.contains(&format!("<span class=\"word\">{word}</span>")), "{cell}");
            assert!(cell.contains(&format!("{} says ***", c.tool)), "evidence, masked: {cell}");
        }
    }
    for col in ["DCT (docker pull)", "cosign verify", "notation verify", "kyverno"] {
        assert!(page.contains(&format!("<th>{col}</th>")), "{col}");
    }
    assert!(page.contains("data-cell=\"tag-moved/kyverno\""), "a missing cell is shown as such");
    assert!(page.contains("differs from the record"));
    assert!(page.contains("1 cell(s) differ"));
    assert!(page.contains("why tag-rollback"));
    assert!(!page.contains(SECRET));
}

#[test]
fn the_migrate_page_has_each_digest_its_origin_and_every_signature_column() {
    let digest = format!("sha256:{}", "c".repeat(64));
    let record = |repo: &str, cosign: Outcome, notation: Outcome| Record {
        repository: format!("sandboxregistry:5000/{repo}"),
        tag: "latest".into(),
        dct_digest: digest.clone(),
        dct_signers: vec!["Repo Admin".into()],
        registry_digest: Some(format!("sha256:{}", "d".repeat(64))),
        signed_digest_served: true,
        cosign,
        notation,
        note: "tag moved".into(),
    };
    let report = MigrateReport {
        sandbox: "s".into(),
        records: vec![
            record("app/web", Outcome::Signed, Outcome::AlreadySigned),
            record(
                "app/gone",
                Outcome::Skipped("signed digest not served".into()),
                Outcome::Failed(format!("boom {SECRET}")),
            ),
        ],
        without_signed_tags: vec![Unsigned {
            repository: "sandboxregistry:5000/app/none".into(),
            reason: "no signed tags".into(),
        }],
        signed: 1,
        already_signed: 1,
        failed: 1,
        cosign_public_key: "/st/cosign.pub".into(),
        notation_certificate: "/st/notation.crt".into(),
        notation_trust_policy: "/st/trustpolicy.json".into(),
    };
    let origin = sample_view();
    let page = crate::migrate::html::render_migrate(
        &report,
        &[origin],
        "cosign verify …",
        &Masker::new(&[SECRET.to_string()]),
    );
    assert_self_contained(&page);
    assert_marks_have_words(&page);
    for r in &report.records {
        assert!(page.contains(&format!("data-record=\"{}:{}\"", r.repository, r.tag)), "{}", r.repository);
    }
    assert!(page.contains(&digest) && page.contains("Repo Admin"));
    for col in ["New signature: cosign", "New signature: notation"] {
        assert!(page.contains(col), "{col}");
    }
    for word in ["signed", "already-signed", "skipped", "failed"] {
        assert!(page.contains(&format!("<span class=\"word\">{word}</span>")), "{word}");
    }
    assert!(page.contains("boom ***") && !page.contains(SECRET));
    assert!(page.contains("sandboxregistry:5000/app/none"));
    assert!(page.contains("data-trust=\"sandboxregistry:5000/test/rotate\""), "the DCT origin's tree");
}

#[test]
fn unwritable_report_paths_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let err = super::check_writable(&dir.path().join("missing/r.html")).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
    let err = super::check_writable(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is a directory"), "{err}");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = super::check_writable(&file.join("r.html")).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "a file is no directory: {err}");
    super::check_writable(&dir.path().join("r.html")).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["file"], "the check leaves nothing behind");
}
