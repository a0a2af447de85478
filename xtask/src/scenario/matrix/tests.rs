use super::*;
use crate::scenario::model::{Expect, Target};
use crate::scenario::report::StepReport;

fn pinned() -> Vec<Cli> {
    crate::images::client_cli::catalogue(&crate::images::lock::load().unwrap()).unwrap()
}

fn step(index: usize, status: StepStatus, expectation: Option<&str>) -> StepReport {
    StepReport {
        index,
        title: format!("step {index}"),
        explain: String::new(),
        on: Target::default(),
        identity: None,
        command: "true".into(),
        command_shortened: None,
        env: BTreeMap::new(),
        clock: None,
        status,
        exit_code: Some(0),
        duration_ms: 1,
        expected: Expect::default(),
        expectation: expectation.map(String::from),
        message: (status == StepStatus::Failed).then(|| "expected success, got exit 1".into()),
        failures: Vec::new(),
        note: None,
        captures: BTreeMap::new(),
        output_tail: Vec::new(),
        trust: None,
    }
}

fn scenario_report(name: &str, steps: Vec<StepReport>) -> ScenarioReport {
    let passed = steps.iter().all(|s| s.status == StepStatus::Passed);
    ScenarioReport {
        name: name.into(),
        summary: String::new(),
        passed,
        aborted: false,
        interrupted: false,
        duration_ms: 1,
        steps,
    }
}

#[test]
fn the_data_file_covers_the_catalogue_and_the_pinned_clients() {
    let recorded = Recorded::load().unwrap();
    let ids: Vec<String> = pinned().into_iter().map(|c| c.id).collect();
    assert_eq!(recorded.clients, ids);
    let rows: Vec<&str> = recorded.rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(rows, crate::scenario::names());
}

#[test]
fn every_recorded_difference_is_where_the_scenario_says_the_client_differs() {
    let recorded = Recorded::load().unwrap();
    let scenarios = crate::scenario::catalogue().unwrap();
    for cli in pinned() {
        let release = semver::Version::parse(&cli.release).unwrap();
        for s in &scenarios {
            let cell = recorded.cell(&s.name, &cli.id).unwrap();
            assert_eq!(cell.differs, static_differs(s, &release), "{} on {}", s.name, cli.id);
        }
    }
    // The regression shows where it should.
    assert_eq!(recorded.cell("signer-remove", "28.5").unwrap().differs, [6, 7, 8, 9]);
    assert!(recorded.cell("signer-remove", "20.10").unwrap().differs.is_empty());
    assert!(recorded.cell("guide", "29.0").is_none());
}

#[test]
fn the_readme_holds_the_matrix_rendered_from_the_data_file() {
    let readme = std::fs::read_to_string(crate::table::source_root().join("README.md")).unwrap();
    let table = markdown(&Recorded::load().unwrap(), &pinned(), &crate::scenario::catalogue().unwrap()).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's client matrix differs from xtask/data/client-matrix.toml; put this in:\n{table}"
    );
    assert!(table.contains("| `signer-remove` | ✓ | ✓ (differs at 6–9) | ✓ (differs at 6–9) |"), "{table}");
    assert!(table.contains("maybePromptForSignerRemoval"), "the why is rendered: {table}");
}

#[test]
fn a_cell_is_as_recorded_only_when_pass_differences_and_failure_all_match() {
    let rec = Expected { passed: true, differs: vec![2], failed_step: None };
    let same = scenario_report(
        "s",
        vec![step(1, StepStatus::Passed, None), step(2, StepStatus::Passed, Some("docker CLI >=26"))],
    );
    let c = Cell::of("26.1", &same, Some(rec.clone()));
    assert!(c.as_recorded && c.passed && c.differs == [2] && c.failed_step.is_none(), "{c:?}");

    // The default set is no difference.
    let default =
        scenario_report("s", vec![step(1, StepStatus::Passed, None), step(2, StepStatus::Passed, Some("default"))]);
    assert!(!Cell::of("26.1", &default, Some(rec.clone())).as_recorded);

    let failed = scenario_report(
        "s",
        vec![step(1, StepStatus::Failed, None), step(2, StepStatus::NotRun, Some("docker CLI >=26"))],
    );
    let c = Cell::of("26.1", &failed, Some(rec));
    assert!(!c.as_recorded && !c.passed);
    assert_eq!(
        c.failed_step.as_ref().map(|f| (f.index, f.message.as_deref())),
        Some((1, Some("expected success, got exit 1")))
    );
    // A failure the file records is as recorded.
    let rec_fail = Expected { passed: false, differs: vec![], failed_step: Some(1) };
    let failed_plain = scenario_report("s", vec![step(1, StepStatus::Failed, None), step(2, StepStatus::NotRun, None)]);
    assert!(Cell::of("26.1", &failed_plain, Some(rec_fail)).as_recorded);
    // Nothing recorded: passing is all that counts.
    assert!(Cell::of("file:/x", &same, None).as_recorded);
    assert!(!Cell::of("file:/x", &failed_plain, None).as_recorded);
}

#[test]
fn the_matrix_has_a_row_per_scenario_and_a_column_per_client() {
    let recorded = Recorded::load().unwrap();
    let report = |cli: &str, differs: bool| {
        let mut r = Report::new(
            "docker 20.10.24",
            "2026-01-01T00:00:00Z",
            "0123abcd",
            vec![
                scenario_report("guide", vec![step(1, StepStatus::Passed, None)]),
                scenario_report(
                    "signer-remove",
                    (1..=15)
                        .map(|i| {
                            let set =
                                (6..=9).contains(&i).then_some(if differs { "docker CLI >=26" } else { "default" });
                            step(i, StepStatus::Passed, set)
                        })
                        .collect(),
                ),
            ],
        );
        r.client_cli = Some(cli.to_string());
        r
    };
    let runs = vec![
        (Column { id: "20.10".into(), cli: "20.10.24+dfsg1".into() }, report("20.10.24+dfsg1", false)),
        (Column { id: "28.5".into(), cli: "28.5.2+dfsg4".into() }, report("28.5.2+dfsg4", true)),
    ];
    let m = build("docker 20.10.24", runs.clone(), &recorded);
    assert!(m.as_recorded, "{m:#?}");
    assert_eq!(m.rows.len(), 2);
    assert_eq!(m.rows[1].cells.iter().map(|c| c.client.as_str()).collect::<Vec<_>>(), ["20.10", "28.5"]);
    let t = table(&m);
    assert!(t.starts_with("SCENARIO       20.10.24+dfsg1  28.5.2+dfsg4"), "{t}");
    assert!(t.contains("signer-remove  ✓               ✓ (differs at 6–9)"), "{t}");
    assert!(!t.contains("not as recorded"), "{t}");
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["schema"], SCHEMA);
    assert_eq!(json["rows"][1]["cells"][1]["differs"], serde_json::json!([6, 7, 8, 9]));

    // 28.5 behaving like 20.10 is a difference from the data: flagged, and the run fails.
    let mut swapped = runs;
    swapped[1].1 = report("28.5.2+dfsg4", false);
    let m = build("docker", swapped, &recorded);
    assert!(!m.as_recorded);
    assert!(table(&m).contains("✓ <-- not as recorded"), "{}", table(&m));
}

#[test]
fn step_lists_become_ranges() {
    assert_eq!(ranges(&[6, 7, 8, 9]), "6–9");
    assert_eq!(ranges(&[1, 3, 4, 7]), "1, 3–4, 7");
    assert_eq!(ranges(&[]), "");
}
