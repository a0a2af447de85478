use super::check::{digest_in, key_line, outcome, pull_script, stage_of, with_clock};
use super::*;

#[test]
fn the_data_file_has_every_row_and_a_cell_per_column() {
    let e = expected().unwrap();
    let ids: Vec<&str> = e.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "layer-tampered",
            "tag-moved",
            "tag-rollback",
            "signature-removed",
            "metadata-expired",
            "untrusted-key",
            "unsigned-new-tag",
            "bundle-only",
            "notation-only"
        ]
    );
    let cols: Vec<&str> = e.columns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(cols, ["dct", "cosign", "notation", "skopeo", "podman", "docker29"]);
    let outcomes: Vec<&str> = e.outcomes.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(outcomes, ["attack-refused", "attack-accepted", "good-refused", "good-accepted"]);
    // The containers stack refuses a good image that carries only the bundle.
    let bundle = e.rows.iter().find(|r| r.id == "bundle-only").unwrap();
    assert_eq!(bundle.signed_with, [Format::CosignBundle]);
    assert_eq!(bundle.cells["podman"].outcome, "good-refused");
    assert_eq!(e.rows[0].check_tag, "latest");
}

#[test]
fn a_cell_that_does_not_fit_its_row_is_refused() {
    let mut e = expected().unwrap();
    e.rows[0].cells.get_mut("dct").unwrap().outcome = "good-accepted".into();
    assert!(e.validate().unwrap_err().to_string().contains("is not one of"));
    let mut e = expected().unwrap();
    e.rows[0].cells.get_mut("dct").unwrap().stage = String::new();
    assert!(e.validate().unwrap_err().to_string().contains("does not fit"));
    let mut e = expected().unwrap();
    e.rows[0].cells.remove("podman");
    assert!(e.validate().is_err());
    assert!(check_rows(&expected().unwrap(), &["nope".into()]).unwrap_err().to_string().contains("tag-moved"));
}

#[test]
fn the_readme_holds_the_matrix_rendered_from_the_data_file() {
    let readme = std::fs::read_to_string(crate::table::source_root().join("README.md")).unwrap();
    let table = markdown(&expected().unwrap());
    assert!(
        readme.contains(&table),
        "README.md's comparison table differs from xtask/data/comparison.toml; put this in:\n{table}"
    );
}

#[test]
fn markdown_renders_columns_and_outcomes_from_the_data() {
    let e = expected().unwrap();
    let md = markdown(&e);
    let header = md.lines().next().unwrap();
    assert!(header.starts_with("| Attack | DCT (trusted docker pull) |"), "{header}");
    assert_eq!(header.matches(" | ").count(), e.columns.len(), "{header}");
    assert!(md.contains("✓ refused (content) — `filesystem layer verification failed for digest`"), "{md}");
    assert!(md.contains("⚠ good image refused (signature) — `A signature was required, but no signature exists`"));
    assert!(md.contains("docker/cli#6603"), "the plain pull names its source");
}

#[test]
fn outcomes_follow_the_row_kind_and_the_digest_the_consumer_got() {
    assert_eq!(outcome(RowKind::Attack, "sha256:a", Some("sha256:a")), "attack-accepted");
    assert_eq!(outcome(RowKind::Attack, "sha256:a", Some("sha256:b")), "attack-refused", "DCT pulled the signed one");
    assert_eq!(outcome(RowKind::Attack, "sha256:a", None), "attack-refused");
    assert_eq!(outcome(RowKind::Good, "sha256:a", Some("sha256:a")), "good-accepted");
    assert_eq!(outcome(RowKind::Good, "sha256:a", None), "good-refused");
    assert_eq!(stage_of("attack-refused", "writing blob: happened during read: Digest did not match"), "content");
    assert_eq!(stage_of("good-refused", "A signature was required, but no signature exists"), "signature");
    assert_eq!(stage_of("attack-accepted", "Digest did not match"), "");
}

#[test]
fn the_digest_comes_from_what_each_consumer_prints() {
    let d = format!("sha256:{}", "c".repeat(64));
    assert_eq!(digest_in(&format!("x\nDigest: {d}\nStatus: Downloaded")).as_deref(), Some(d.as_str()));
    assert_eq!(digest_in(&format!("Storing signatures\ndigest={d}\n")).as_deref(), Some(d.as_str()));
    let cosign = format!(
        r#"[{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}}}}}}]"#
    );
    assert_eq!(digest_in(&cosign).as_deref(), Some(d.as_str()));
    assert_eq!(digest_in(&format!("Successfully verified signature for r:5000/a/b@{d}")).as_deref(), Some(d.as_str()));
    assert_eq!(digest_in("Error: no signatures found"), None);
}

#[test]
fn the_key_line_is_the_recorded_one_or_the_last_real_line() {
    let out =
        "WARNING: skipping tlog\nError: no signatures found\nerror during command execution: no signatures found\n";
    assert_eq!(key_line(out, "no signatures found"), "Error: no signatures found");
    assert_eq!(key_line("a\nb\nWarning: tags are mutable\n", "zzz"), "b");
}

#[test]
fn the_clock_is_shifted_only_when_asked_and_reaches_the_go_verifiers() {
    assert_eq!(with_clock("cosign verify x".into(), "").unwrap(), "cosign verify x");
    let w = with_clock("cosign verify x".into(), CLOCK_SHIFT).unwrap();
    assert!(w.contains("for ts_p in docker notary cosign notation; do"), "{w}");
    assert!(w.contains(" -U LD_PRELOAD %s"), "{w}");
    assert!(w.contains(&format!("FAKETIME='{CLOCK_SHIFT}'")), "{w}");
    let status = std::process::Command::new("sh").arg("-n").arg("-c").arg(&w).status().unwrap();
    assert!(status.success(), "{w}");
}

#[test]
fn pulls_start_without_a_local_copy_and_say_whether_trust_is_on() {
    let s = pull_script("sandboxregistry:5000/compare/x", "sandboxregistry:5000/compare/x:latest", true);
    assert!(
        s.find("docker image rm").unwrap() < s.find("docker pull 'sandboxregistry:5000/compare/x:latest'").unwrap()
    );
    assert!(!s.contains("DOCKER_CONTENT_TRUST=0"));
    let plain = pull_script("r", "r:latest", false);
    assert!(plain.contains("DOCKER_CONTENT_TRUST=0 docker pull 'r:latest'"), "{plain}");
}
