//! The pages as a reader gets them: rendered from fixed reports, every step, cell, record and
//! role must be in the page, failures come first, secrets are masked, and nothing in the page
//! reaches the network or runs a script.

use regex_lite::Regex;

use super::Tone;
use crate::migrate::compare::html as compare_html;
use crate::migrate::compare::{Cell, Column, Expected, Matrix, MeasuredCell, MeasuredRow, OutcomeDef, Row, RowKind};
use crate::migrate::html::Extras as MigrateExtras;
use crate::migrate::signing::{Format, FormatResult, Status};
use crate::migrate::{NotMigrated, Record, Report as MigrateReport, Unsigned};
use crate::scenario::expect::{Failure, FailureKind};
use crate::scenario::model::{Expect, Outcome as StepOutcome, Target};
use crate::scenario::report::{Report, ScenarioReport, StepReport, StepStatus, TrustChange, TrustShot};
use crate::step::mask::Masker;
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
        on: Target::default(),
        identity: None,
        command: format!("docker push sandboxregistry:5000/test/{index}"),
        command_shortened: None,
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
        expectation: None,
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
        interrupted: false,
        duration_ms: 900,
        steps: vec![step(1, "sign version 1", StepStatus::Passed), rotation],
    };
    let failed = ScenarioReport {
        name: "guide".into(),
        summary: "the guide".into(),
        passed: false,
        aborted: false,
        interrupted: false,
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
fn the_scenario_page_names_the_docker_cli_and_the_expectations_it_picked() {
    let mut report = scenario_report();
    let page = crate::scenario::html::render(&report, &Masker::new(&[]));
    assert!(!page.contains("docker CLI"), "no CLI recorded, none shown");
    report.client_cli = Some("26.1.5+dfsg1".into());
    report.scenarios[0].steps[0].expectation = Some("docker CLI >=26".into());
    let page = crate::scenario::html::render(&report, &Masker::new(&[]));
    let facts = Regex::new(r"docker CLI</\w+>\s*<\w+[^>]*>26\.1\.5\+dfsg1<").unwrap();
    assert!(facts.is_match(&page), "the run's CLI among the facts: {page}");
    let chip = "data-expectation=\"docker CLI &gt;=26\">expectations: docker CLI &gt;=26</span>";
    assert!(page.contains(chip), "the step's expectation set: {page}");
    assert_eq!(page.matches("data-expectation=").count(), 1, "only the step that has one");
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

fn outcome(id: &str, mark: &str) -> OutcomeDef {
    OutcomeDef { id: id.into(), mark: mark.into(), meaning: format!("means {id}") }
}

fn column(id: &str) -> Column {
    Column { id: id.into(), title: format!("title {id}"), how: format!("how {id}"), clock: true }
}

fn cell(column: &str, outcome: &str, stage: &str, digest: Option<String>, as_recorded: bool) -> MeasuredCell {
    MeasuredCell {
        column: column.into(),
        outcome: outcome.into(),
        stage: stage.into(),
        exit_code: if stage.is_empty() { 0 } else { 1 },
        digest,
        message: format!("{column} says {SECRET}"),
        as_recorded,
        recorded: Cell { outcome: "attack-refused".into(), stage: "signature".into(), message: "recorded line".into() },
        seconds: 0.25,
    }
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A matrix with outcomes, columns and a row kind the page has never heard of by name: the page
/// renders whatever the data lists.
fn matrix() -> (Matrix, Expected) {
    let row = |id: &str, kind: RowKind, cells: Vec<MeasuredCell>| MeasuredRow {
        id: id.into(),
        kind,
        attack: format!("attack {id}"),
        repository: format!("sandboxregistry:5000/compare/{id}"),
        tag: "latest".into(),
        signed_digest: digest('a'),
        wanted_digest: digest('b'),
        cells,
    };
    let m = Matrix {
        sandbox: "s".into(),
        clock_shift: "+15d".into(),
        outcomes: vec![
            outcome("attack-refused", "✓ refused"),
            outcome("attack-accepted", "✗ accepted"),
            outcome("good-refused", "⚠ good image refused"),
            outcome("good-accepted", "✓ accepted"),
            outcome("attack-delayed", "delayed"),
        ],
        columns: vec![column("dct"), column("skopeo"), column("kyverno")],
        interrupted: Some("SIGTERM".into()),
        rows: vec![
            row(
                "tag-moved",
                RowKind::Attack,
                vec![
                    cell("dct", "attack-refused", "signature", Some(digest('a')), true),
                    cell("skopeo", "attack-accepted", "", Some(digest('b')), false),
                    cell("kyverno", "attack-delayed", "", None, true),
                ],
            ),
            // A column this row has no cell for is shown as not measured.
            row(
                "bundle-only",
                RowKind::Good,
                vec![
                    cell("dct", "good-accepted", "", Some(digest('b')), true),
                    cell("skopeo", "good-refused", "content", None, true),
                ],
            ),
        ],
        as_recorded: false,
    };
    let recorded = |id: &str, kind: RowKind| Row {
        id: id.into(),
        kind,
        attack: format!("attack {id}"),
        how: format!("how {id}"),
        note: format!("why {id}"),
        check_tag: "latest".into(),
        signed_with: vec![],
        cells: Default::default(),
    };
    let e = Expected {
        outcomes: m.outcomes.clone(),
        columns: m.columns.clone(),
        rows: vec![recorded("tag-moved", RowKind::Attack), recorded("bundle-only", RowKind::Good)],
    };
    (m, e)
}

#[test]
fn outcomes_look_as_their_marks_say_with_shape_colour_and_word() {
    let e = crate::migrate::compare::expected().unwrap();
    let looks: Vec<(Tone, String)> = e.outcomes.iter().map(compare_html::look).collect();
    assert_eq!(
        looks,
        [
            (Tone::Good, "refused".to_string()),
            (Tone::Bad, "accepted".to_string()),
            (Tone::Warn, "good image refused".to_string()),
            (Tone::Good, "accepted".to_string()),
        ]
    );
    assert_eq!(compare_html::look(&outcome("x", "")), (Tone::Quiet, "x".to_string()));
}

#[test]
fn the_compare_page_is_a_grid_with_every_cell_its_stage_and_its_evidence() {
    let (m, e) = matrix();
    let page = compare_html::render(&m, &e, &Masker::new(&[SECRET.to_string()]));
    assert_self_contained(&page);
    assert_marks_have_words(&page);
    for r in &m.rows {
        assert!(page.contains(&format!("data-row=\"{}\"", r.id)));
        for c in &r.cells {
            let at = page
                .find(&format!("data-cell=\"{}/{}\"", r.id, c.column))
                .unwrap_or_else(|| panic!("{}/{}", r.id, c.column));
            // From the cell's `<td` (its class comes before its data attributes) to its end.
            let start = page[..at].rfind("<td").unwrap();
            let cell = &page[start..at + page[at..].find("</td>").unwrap()];
            let def = m.outcomes.iter().find(|o| o.id == c.outcome).unwrap();
            let (tone, word) = compare_html::look(def);
            assert!(cell.contains(&format!("class=\"cell {}\"", tone.class())), "{cell}");
            assert!(cell.contains(&format!("<span class=\"word\">{word}</span>")), "{cell}");
            assert!(cell.contains(&format!("data-outcome=\"{}\"", c.outcome)), "{cell}");
            if !c.stage.is_empty() {
                assert!(cell.contains(&format!("at the {}", c.stage)), "the refusing stage: {cell}");
            }
            assert!(cell.contains(&format!("{} says ***", c.column)), "evidence, masked: {cell}");
        }
    }
    for c in &m.columns {
        assert!(page.contains(&format!("<th data-column=\"{}\">{}</th>", c.id, c.title)), "{}", c.id);
        assert!(page.contains(&c.how), "{}", c.id);
    }
    for o in &m.outcomes {
        assert!(page.contains(&format!("data-outcome=\"{}\"", o.id)) && page.contains(&o.meaning), "{}", o.id);
    }
    // What each consumer ended up with, in the row's words.
    assert!(page.contains("ended up with sha256:aaaaaaaaaaaa (the signed image)"));
    assert!(
        page.contains("ended up with sha256:bbbbbbbbbbbb (the attacker&#39;s)") || page.contains("(the attacker's)")
    );
    assert!(page.contains("ended up with sha256:bbbbbbbbbbbb (the good image)"));
    assert!(page.contains("ended up with no image"));
    assert!(page.contains("data-cell=\"bundle-only/kyverno\"") && page.contains("not measured"));
    assert!(page.contains("differs from the record") && page.contains("1 cell(s) differ"));
    assert!(page.contains("interrupted by SIGTERM: 2 row(s) measured"));
    assert!(page.contains("why bundle-only") && page.contains(">good image</span>"));
    assert!(!page.contains(SECRET));
}

fn format_result(format: Format, status: Status, detail: &str) -> FormatResult {
    FormatResult { format, status, signatures: vec![digest('e')], detail: detail.into() }
}

#[test]
fn the_migrate_page_has_each_digest_its_origin_its_signatures_per_format_and_the_kit() {
    let record = |repo: &str, signatures: Vec<FormatResult>| Record {
        repository: format!("sandboxregistry:5000/{repo}"),
        tag: "latest".into(),
        dct_digest: digest('c'),
        dct_signers: vec!["Repo Admin".into()],
        registry_digest: Some(digest('d')),
        signed_digest_served: true,
        carries: signatures.iter().filter(|s| s.status.carried()).map(|s| s.format).collect(),
        signatures,
        note: "tag moved".into(),
    };
    let report = MigrateReport {
        sandbox: "s".into(),
        formats: vec![Format::CosignLegacy, Format::Notation],
        interrupted: None,
        records: vec![
            record(
                "test/rotate",
                vec![
                    format_result(Format::CosignBundle, Status::Present, ""),
                    format_result(Format::CosignLegacy, Status::Signed, ""),
                    format_result(Format::Notation, Status::Already, ""),
                ],
            ),
            record(
                "app/gone",
                vec![
                    format_result(Format::CosignBundle, Status::Foreign, ""),
                    format_result(Format::CosignLegacy, Status::Absent, ""),
                    format_result(Format::Notation, Status::Failed, &format!("boom {SECRET}")),
                ],
            ),
        ],
        not_migrated: vec![NotMigrated {
            tag: "sandboxregistry:5000/app/gone:latest".into(),
            digest: digest('c'),
            format: Format::Notation,
            reason: format!("boom {SECRET}"),
        }],
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
        kit: Some("/st/signers/kit".into()),
    };
    let origins = [sample_view()];
    let kit_files = ["containers/policy.json".to_string(), "kyverno/clusterpolicy.yaml".to_string()];
    let extras = MigrateExtras { origins: &origins, commands: "cosign verify …", kit_files: &kit_files };
    let page = crate::migrate::html::render(&report, &extras, &Masker::new(&[SECRET.to_string()]));
    assert_self_contained(&page);
    assert_marks_have_words(&page);
    for r in &report.records {
        let at = page.find(&format!("data-record=\"{}:{}\"", r.repository, r.tag)).unwrap();
        let row = &page[at..at + page[at..].find("</tr>").unwrap()];
        assert!(row.contains(&format!("data-origin=\"{}\"", r.dct_digest)) && row.contains("Repo Admin"), "{row}");
        for f in Format::ALL {
            assert!(row.contains(&format!("data-format=\"{}\"", f.name())), "{} in {row}", f.name());
        }
        assert!(row.contains("signature sha256:eeeeeeeeeeee"), "{row}");
        let carries: Vec<&str> = r.carries.iter().map(|f| f.name()).collect();
        assert!(row.contains(&format!("data-carries=\"{}\"", carries.join(" "))), "{row}");
    }
    assert!(page.contains("data-carries=\"cosign-bundle cosign-legacy notation\""), "what test/rotate carries");
    for f in Format::ALL {
        assert!(page.contains(&format!("New signature: {}", f.name())), "{}", f.name());
    }
    for word in ["signed now", "already signed", "present (not asked for)", "signed by another key", "none", "failed"] {
        assert!(page.contains(&format!("<span class=\"word\">{word}</span>")), "{word}");
    }
    assert!(page.contains("data-not-migrated=\"sandboxregistry:5000/app/gone:latest/notation\""));
    assert!(page.contains("boom ***") && !page.contains(SECRET));
    assert!(page.contains("sandboxregistry:5000/app/none"));
    assert!(page.contains("data-kit=\"/st/signers/kit\"") && page.contains("<code>kyverno/clusterpolicy.yaml</code>"));
    assert!(page.contains("data-trust=\"sandboxregistry:5000/test/rotate\""), "the DCT origin's tree");
    assert!(page.contains("cosign-legacy, notation"), "the formats asked for");
}

#[test]
fn an_interrupted_run_says_so_on_its_page() {
    let mut report = scenario_report();
    report.interrupted = Some("SIGINT".into());
    report.scenarios[1].interrupted = true;
    let page = crate::scenario::html::render(&report, &Masker::new(&[]));
    assert!(page.contains("interrupted by SIGINT"), "{page}");
    assert!(page.contains("<span class=\"word\">interrupted</span>"));
}
