//! `migrate` and `compare` on real engines: repositories signed with DCT (through `docker push`,
//! by hand with the notary CLI in `shell`, one whose tag moves after signing, one whose signed
//! manifest is deleted) are re-signed by their DCT digest in every format (cosign bundle, cosign
//! `.sig`, Notation), verified with the tools in the signers image, migrated a second time
//! without signing anything; then the comparison runs every enforcement point (DCT, cosign and
//! Notation each followed by a pull, skopeo and podman through the consumer kit's policy, a plain
//! pull) and every cell is checked against xtask/data/comparison.toml, which the README's table is
//! rendered from.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use trust_sandbox_tests::{require_engine, workspace_root, Run, Sandbox};

#[test]
fn docker_migrate_and_compare() {
    migrate_and_compare("docker");
}

#[test]
fn podman_migrate_and_compare() {
    migrate_and_compare("podman");
}

const R: &str = "sandboxregistry:5000";

/// Run in the client through `shell`, as a user would type it. Prints `<name> <digest>` lines.
const SIGN_BY_HAND: &str = r#"set -e
mk() { d=$(mktemp -d); echo "$1 $(date +%s%N) $$" > "$d/nonce"; tar -C "$d" -c . | docker import - "$2" >/dev/null; rm -rf "$d"; }
digest() { sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p'; }
# Signed on push.
mk web sandboxregistry:5000/app/web:v1
echo "web $(docker push sandboxregistry:5000/app/web:v1 2>&1 | digest)"
# Signed on push, then the tag is moved to an unsigned image.
mk moved1 sandboxregistry:5000/app/moved:latest
echo "moved-signed $(docker push sandboxregistry:5000/app/moved:latest 2>&1 | digest)"
mk moved2 sandboxregistry:5000/app/moved:latest
echo "moved-now $(DOCKER_CONTENT_TRUST=0 docker push sandboxregistry:5000/app/moved:latest 2>&1 | digest)"
# Signed on push, then the signed manifest is deleted from the registry.
mk gone sandboxregistry:5000/app/gone:latest
g=$(docker push sandboxregistry:5000/app/gone:latest 2>&1 | digest)
echo "gone $g"
curl -fsS -X DELETE "http://sandboxregistry:5000/v2/app/gone/manifests/$g"
# Pushed without trust, then signed by hand with the notary CLI: the manifest's size and hash.
mk hand sandboxregistry:5000/hand/made:1.0
h=$(DOCKER_CONTENT_TRUST=0 docker push sandboxregistry:5000/hand/made:1.0 2>&1 | digest)
size=$(curl -fsS -o /dev/null -w '%{size_download}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://sandboxregistry:5000/v2/hand/made/manifests/$h")
notary -s https://notaryserver:4443 -d ~/.docker/trust --tlscacert /etc/sandbox/ca.crt init sandboxregistry:5000/hand/made >/dev/null
notary -s https://notaryserver:4443 -d ~/.docker/trust --tlscacert /etc/sandbox/ca.crt addhash sandboxregistry:5000/hand/made 1.0 "$size" --sha256 "${h#sha256:}" >/dev/null
notary -s https://notaryserver:4443 -d ~/.docker/trust --tlscacert /etc/sandbox/ca.crt publish sandboxregistry:5000/hand/made >/dev/null
echo "hand $h"
"#;

fn migrate_and_compare(engine: &str) {
    require_engine(engine);
    let sb = Sandbox::new(engine, "migrate");
    sb.up().assert_ok("up");
    let signed = sb.x_stdin(&["shell"], SIGN_BY_HAND);
    signed.assert_ok("signing with DCT in the shell");
    let d: BTreeMap<&str, &str> = signed.stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    for k in ["web", "moved-signed", "moved-now", "gone", "hand"] {
        assert!(d.get(k).is_some_and(|v| v.starts_with("sha256:")), "no digest for {k}:\n{}", signed.stdout);
    }

    // The signed digest of app/gone is no longer served: migrate says so and fails (exit 1), so
    // a CI job can tell; the JSON is still written.
    let first = sb.x(&["migrate", "--json", "-"]);
    assert_eq!(first.code, 1, "migrate with an unmigratable tag:\n{}", first.stderr);
    for format in ["cosign-bundle", "cosign-legacy", "notation"] {
        let line = format!("not migrated: {R}/app/gone:latest ({}) in {format}:", &d["gone"][..19]);
        assert!(first.stderr.contains(&line), "{line}:\n{}", first.stderr);
    }
    let report = first.json();
    let missing = report["not_migrated"].as_array().unwrap();
    assert_eq!(missing.len(), 3, "one per format asked for:\n{}", first.stdout);
    assert!(missing
        .iter()
        .all(|m| m["tag"] == format!("{R}/app/gone:latest") && !m["reason"].as_str().unwrap().is_empty()));
    let rec = |repo: &str, tag: &str| -> serde_json::Value {
        report["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repository"] == format!("{R}/{repo}") && r["tag"] == tag)
            .unwrap_or_else(|| panic!("migrate did not find {repo}:{tag}:\n{}", first.stdout))
            .clone()
    };
    let status = |r: &serde_json::Value, format: &str| -> String {
        r["signatures"].as_array().unwrap().iter().find(|s| s["format"] == format).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (repo, tag, key) in [("app/web", "v1", "web"), ("hand/made", "1.0", "hand")] {
        let r = rec(repo, tag);
        assert_eq!(r["dct_digest"], d[key], "{r}");
        assert_eq!(r["registry_digest"], d[key], "{r}");
        for format in ["cosign-bundle", "cosign-legacy", "notation"] {
            assert_eq!(status(&r, format), "signed", "{r}");
        }
        assert_eq!(r["carries"], serde_json::json!(["cosign-bundle", "cosign-legacy", "notation"]), "{r}");
    }
    let moved = rec("app/moved", "latest");
    assert_eq!(moved["dct_digest"], d["moved-signed"], "{moved}");
    assert_eq!(moved["registry_digest"], d["moved-now"], "{moved}");
    assert!(moved["note"].as_str().unwrap().contains("tag moved"), "{moved}");
    assert_eq!(status(&moved, "cosign-legacy"), "signed", "{moved}");
    let gone = rec("app/gone", "latest");
    assert_eq!(gone["signed_digest_served"], false, "{gone}");
    assert_eq!(gone["signatures"], serde_json::json!([]), "{gone}");
    assert_eq!(gone["carries"], serde_json::json!([]), "{gone}");
    assert!(gone["note"].as_str().unwrap().contains("no longer serves the signed digest"), "{gone}");
    assert!(first.stderr.contains("tag moved") || first.stdout.contains("tag moved"));
    // The verify commands it prints for consumers inside the sandbox network work as printed.
    let prefix = format!("{engine} exec ");
    let printed: Vec<&str> = first.stderr.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(printed.len(), 2, "{}", first.stderr);
    assert!(printed[0].contains("cosign verify --key") && printed[1].contains("notation verify"), "{printed:?}");
    for line in printed {
        let r = trust_sandbox_tests::run(std::process::Command::new("sh").args(["-c", line]), None);
        r.assert_ok(line);
    }

    // The signatures verify with the tools in the image, on the DCT digests; the moved tag's new
    // digest was never signed.
    let verify = |tool: &str, reference: &str| -> Run {
        let cmd = match tool {
            "cosign" => format!("cosign verify --key /signers/cosign.pub --insecure-ignore-tlog=true --allow-insecure-registry --allow-http-registry {reference}"),
            _ => format!("notation verify --insecure-registry {reference}"),
        };
        sb.exec("signers", &cmd)
    };
    for (repo, key) in [("app/web", "web"), ("hand/made", "hand"), ("app/moved", "moved-signed")] {
        for tool in ["cosign", "notation"] {
            verify(tool, &format!("{R}/{repo}@{}", d[key])).assert_ok(&format!("{tool} verify {repo}"));
        }
    }
    for tool in ["cosign", "notation"] {
        let r = verify(tool, &format!("{R}/app/moved@{}", d["moved-now"]));
        assert!(!r.ok(), "{tool} verified the moved tag's unsigned digest:\n{}{}", r.stdout, r.stderr);
    }

    // Keys: private, created once; the cosign password is never printed.
    let dir = sb.state_dir().join("signers");
    for key in ["cosign.key", "notation.key", "secrets.json"] {
        let mode = std::fs::metadata(dir.join(key)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{key} has mode {:o}", mode & 0o777);
    }
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("secrets.json")).unwrap()).unwrap();
    let password = secrets["cosign_password"].as_str().unwrap();
    assert!(password.len() >= 32);
    let cosign_key = std::fs::read(dir.join("cosign.key")).unwrap();

    // A second run signs nothing twice.
    let second = sb.x(&["migrate", "--json", "-"]);
    assert_eq!(second.code, 1, "app/gone is still not migrated:\n{}", second.stderr);
    let again = second.json();
    assert_eq!(again["signed"], 0, "{}", second.stdout);
    assert_eq!(again["already_signed"], report["signed"], "{}", second.stdout);
    assert!(second.stderr.contains("nothing signed twice"), "{}", second.stderr);
    assert_eq!(std::fs::read(dir.join("cosign.key")).unwrap(), cosign_key, "the key was made again");
    for out in [&first, &second, &signed] {
        assert!(!out.stdout.contains(password) && !out.stderr.contains(password), "the cosign password was printed");
    }

    // The comparison: every measured cell as comparison.toml (and so the README) states.
    let compare = sb.x(&["compare", "--json", "-"]);
    compare.assert_ok("compare");
    let matrix = compare.json();
    let data: toml::Value =
        toml::from_str(&std::fs::read_to_string(workspace_root().join("xtask/data/comparison.toml")).unwrap()).unwrap();
    let rows = data["rows"].as_array().unwrap();
    let columns: Vec<&str> = data["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(columns, ["dct", "cosign", "notation", "skopeo", "podman", "docker29"]);
    assert_eq!(matrix["rows"].as_array().unwrap().len(), rows.len());
    for (want, got) in rows.iter().zip(matrix["rows"].as_array().unwrap()) {
        assert_eq!(got["id"].as_str(), want["id"].as_str());
        for (i, column) in columns.iter().enumerate() {
            let cell = &got["cells"][i];
            let recorded = &want["cells"][column];
            assert_eq!(cell["column"].as_str(), Some(*column));
            assert_eq!(cell["outcome"].as_str(), recorded["outcome"].as_str(), "{} {column}: {cell}", want["id"]);
            assert_eq!(cell["stage"].as_str(), recorded["stage"].as_str(), "{} {column}: {cell}", want["id"]);
            let message = recorded["message"].as_str().unwrap();
            assert!(cell["message"].as_str().unwrap().contains(message), "{} {column}: {cell}", want["id"]);
        }
    }
    // The good rows end with the image they wanted on the columns that can read its signature.
    let bundle = matrix["rows"].as_array().unwrap().iter().find(|r| r["id"] == "bundle-only").unwrap();
    assert_eq!(bundle["cells"][1]["digest"], bundle["wanted_digest"], "{bundle}");
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for want in rows {
        assert!(
            readme.contains(&format!("| **{}**:", want["attack"].as_str().unwrap())),
            "README lacks {}",
            want["id"]
        );
    }

    compare_stops_cleanly_on_sigterm(&sb);

    // The shifted clock really reaches the Go verifiers: at +3 years Notation refuses, because the
    // sandbox's certificate (2 years) has expired by then.
    let late = sb.exec(
        "signers",
        &format!(
            "faketime -f +3y qemu-$(uname -m) -U LD_PRELOAD $(command -v notation) verify --insecure-registry {R}/app/web@{}",
            d["web"]
        ),
    );
    assert!(!late.ok() && late.stderr.contains("signature verification failed"), "{}{}", late.stdout, late.stderr);

    // `down` removes the signers container with the rest.
    assert!(sb.labelled("container").contains(&sb.container("signers")));
    sb.x(&["down"]).assert_ok("down");
    assert!(sb.labelled("container").is_empty(), "{:?}", sb.labelled("container"));
}

/// SIGTERM (a CI job cancelled) in the middle of `compare`: the running check's processes are
/// killed, the rows measured so far are kept in the JSON, marked, and the exit code is 143.
fn compare_stops_cleanly_on_sigterm(sb: &Sandbox) {
    let dir = tempfile::tempdir().unwrap();
    let (json, err) = (dir.path().join("compare.json"), dir.path().join("compare.stderr"));
    let mut cmd = sb.command(&["compare", "--json", json.to_str().unwrap()]);
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    cmd.stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = std::time::Instant::now();
    // The second row has begun: one row is measured, one is running.
    while std::fs::read_to_string(&err).unwrap().matches("Comparing").count() < 2 {
        assert!(started.elapsed().as_secs() < 600, "compare never reached its second row");
        assert!(
            child.try_wait().unwrap().is_none(),
            "compare ended early:\n{}",
            std::fs::read_to_string(&err).unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    trust_sandbox_tests::run(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]), None)
        .assert_ok("kill");
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    let matrix: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(matrix["interrupted"], "SIGTERM", "{matrix}");
    assert_eq!(matrix["as_recorded"], false);
    assert!(!matrix["rows"].as_array().unwrap().is_empty(), "the measured row was not kept: {matrix}");
    // No process the comparison started is left in the client, the signers or the consumer.
    for service in ["client", "signers", "consumer"] {
        let left =
            sb.exec(service, "grep -l TRUST_SANDBOX_STEP /proc/[0-9]*/environ 2>/dev/null | grep -v self || true");
        assert!(
            left.stdout.trim().is_empty(),
            "{service}: processes of the interrupted compare survived: {}",
            left.stdout
        );
    }
}
