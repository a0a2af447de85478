//! The docker CLIs a client can run (issue 21): `up --client-cli` switches only the client and
//! keeps its trust data, a docker CLI 29 is refused, `versions` tells which CLI runs, and the
//! scenario × client matrix is what xtask/data/client-matrix.toml records: the whole catalogue on
//! every pinned CLI on docker, the scenarios that differ between CLIs on podman. A signal ends a
//! matrix run as it ends any run, and the sandbox's own CLI still comes back.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trust_sandbox_tests::{require_engine, run, scenario_file, Sandbox};

/// The scenarios whose expectations (or wording) differ between CLIs.
const DIFFERING: [&str; 3] = ["delegation", "signer-remove", "impostor-server"];

#[test]
fn docker_every_client_runs_the_whole_catalogue() {
    require_engine("docker");
    let sb = Sandbox::new("docker", "clients");
    sb.up().assert_ok("up");
    switching_keeps_trust_data_and_the_other_services(&sb);
    a_cli_without_content_trust_is_refused(&sb);
    let matrix = matrix(&sb, &[]);
    // Every scenario of the catalogue, in its order, as `scenario list` names them.
    let listed = sb.x(&["scenario", "list", "--json", "-"]);
    listed.assert_ok("scenario list");
    let listed = listed.json();
    let catalogue: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let played: Vec<&str> =
        matrix["reports"][0]["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(played, catalogue, "the whole catalogue");
    a_signal_ends_the_matrix_and_the_client_comes_back(&sb);
    a_binary_of_your_own_is_judged_by_its_version(&sb);
}

#[test]
fn podman_the_differing_scenarios_on_every_client() {
    require_engine("podman");
    let sb = Sandbox::new("podman", "clients");
    sb.up().assert_ok("up");
    let matrix = matrix(&sb, &DIFFERING);
    let names: Vec<&str> = matrix["rows"].as_array().unwrap().iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(names, DIFFERING);
}

fn container_id(sb: &Sandbox, service: &str) -> String {
    let r = sb.engine_cli(&["inspect", "--format", "{{.Id}}", &sb.container(service)]);
    r.assert_ok("inspect");
    r.stdout.trim().to_string()
}

fn versions(sb: &Sandbox) -> serde_json::Value {
    let v = sb.x(&["versions", "--json"]);
    v.assert_ok("versions");
    v.json()
}

/// The guide signs a tag with 20.10; after `up --client-cli 28.5` only the client is new, 28.5
/// runs, and it reads the same trust data.
fn switching_keeps_trust_data_and_the_other_services(sb: &Sandbox) {
    sb.x(&["scenario", "run", "guide"]).assert_ok("the guide on 20.10");
    let v = versions(sb);
    assert!(v["docker (cli)"].as_str().unwrap().starts_with("20.10."), "{v}");
    assert!(v["client cli"].as_str().unwrap().starts_with("default"), "{v}");
    let services = ["db", "notarysigner", "notaryserver", "registry", "client"];
    let before: Vec<String> = services.iter().map(|s| container_id(sb, s)).collect();
    let trust_before = sb.exec("client", "ls /root/.docker/trust/private | sort");

    let r = sb.x(&["up", "--client-cli", "28.5"]);
    r.assert_ok("up --client-cli 28.5");
    let after: Vec<String> = services.iter().map(|s| container_id(sb, s)).collect();
    assert_eq!(before[..4], after[..4], "only the client is recreated");
    assert_ne!(before[4], after[4], "the client is recreated");
    let v = versions(sb);
    assert!(v["docker (cli)"].as_str().unwrap().starts_with("28.5.2"), "{v}");
    assert!(v["client cli"].as_str().unwrap().starts_with("28.5 (Debian forky docker-cli 28.5.2"), "{v}");
    assert_eq!(sb.exec("client", "command -v docker").stdout.trim(), "/usr/local/bin/docker");
    assert_eq!(sb.exec("client", "ls /root/.docker/trust/private | sort").stdout, trust_before.stdout, "same keys");
    let inspect =
        sb.x(&["exec", "--", "docker", "trust", "inspect", "--pretty", "sandboxregistry:5000/test/trusttest"]);
    inspect.assert_ok("docker 28.5 reads what 20.10 signed");
    assert!(inspect.stdout.contains("latest"), "{}", inspect.stdout);
    // Remembered: a plain `up` changes nothing.
    let again = sb.x(&["up"]);
    again.assert_ok("up again");
    assert_eq!(container_id(sb, "client"), after[4]);
}

fn a_cli_without_content_trust_is_refused(sb: &Sandbox) {
    let client = container_id(sb, "client");
    let fake = sb.state.path().join("docker29");
    std::fs::write(&fake, "#!/bin/sh\necho 'Docker version 29.1.3, build f52814d'\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let arg = format!("file:{}", fake.display());
    sb.x(&["up", "--client-cli", &arg]).assert_fails_with("a docker CLI 29", "docker/cli#6603");
    sb.x(&["up", "--client-cli", "27.3"]).assert_fails_with("an unpinned ID", "20.10, 26.1, 28.5");
    assert_eq!(container_id(sb, "client"), client, "nothing was touched");
    assert!(versions(sb)["client cli"].as_str().unwrap().starts_with("28.5"));
}

/// `scenario run --clients all` on `names` (none: the catalogue): exit 0, every cell as recorded,
/// the regression where the data puts it, and the sandbox's own CLI back afterwards.
fn matrix(sb: &Sandbox, names: &[&str]) -> serde_json::Value {
    let before = versions(sb)["client cli"].clone();
    let junit = sb.state.path().join("matrix.junit.xml");
    let mut args = vec!["scenario", "run"];
    args.extend(names);
    args.extend(["--clients", "all", "--json", "-", "--junit", junit.to_str().unwrap()]);
    let r = sb.x(&args);
    r.assert_ok("scenario run --clients all");
    let m = r.json();
    assert_eq!(m["schema"], "trust-sandbox/client-matrix/v1");
    assert_eq!(m["as_recorded"], true, "{}", r.stderr);
    let ids: Vec<&str> = m["clients"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["20.10", "26.1", "28.5"]);
    let clis: Vec<&str> = m["clients"].as_array().unwrap().iter().map(|c| c["cli"].as_str().unwrap()).collect();
    assert!(
        clis[0].starts_with("20.10.24") && clis[1].starts_with("26.1.5") && clis[2].starts_with("28.5.2"),
        "{clis:?}"
    );
    for row in m["rows"].as_array().unwrap() {
        for cell in row["cells"].as_array().unwrap() {
            assert_eq!(cell["passed"], true, "{} on {}: {cell}", row["scenario"], cell["client"]);
        }
    }
    let signer_remove = m["rows"].as_array().unwrap().iter().find(|r| r["scenario"] == "signer-remove").unwrap();
    let differs: Vec<&serde_json::Value> =
        signer_remove["cells"].as_array().unwrap().iter().map(|c| &c["differs"]).collect();
    assert_eq!(differs, [&serde_json::json!([]), &serde_json::json!([6, 7, 8, 9]), &serde_json::json!([6, 7, 8, 9])]);
    // What each client did at the --force removal, from its own report.
    for (i, wanted) in
        ["Successfully removed alice", "Removing signer \"alice\"", "Removing signer \"alice\""].iter().enumerate()
    {
        let report = &m["reports"][i];
        let s = report["scenarios"].as_array().unwrap().iter().find(|s| s["name"] == "signer-remove").unwrap();
        let step = &s["steps"][5];
        let tail: Vec<&str> = step["output_tail"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert!(tail.join("\n").contains(wanted), "{}: {step}", clis[i]);
        let set = if i == 0 { "default" } else { "docker CLI >=26" };
        assert_eq!(step["expectation"], set);
        assert_eq!(report["client_cli"].as_str().unwrap(), clis[i]);
    }
    for (i, report) in m["reports"].as_array().unwrap().iter().enumerate() {
        let ms: u64 = report["scenarios"].as_array().unwrap().iter().map(|s| s["duration_ms"].as_u64().unwrap()).sum();
        eprintln!("scenarios on docker CLI {}: {:.1} s", clis[i], ms as f64 / 1000.0);
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"signer-remove [28.5]\""), "{xml}");
    assert!(xml.contains("<property name=\"expectation\" value=\"docker CLI &gt;=26\"/>"), "{xml}");
    assert_eq!(versions(sb)["client cli"], before, "the sandbox's own client CLI is back");
    m
}

/// SIGTERM while a step hangs on the switched client: the step's processes are killed, the
/// sandbox's own CLI is put back all the same, and the matrix so far is written, marked.
fn a_signal_ends_the_matrix_and_the_client_comes_back(sb: &Sandbox) {
    let before = versions(sb)["client cli"].clone();
    let hang = format!("sleep 4{}", std::process::id() % 1000 + 1000);
    let dir = sb.state.path();
    let f = scenario_file(
        dir,
        "hang",
        &format!(
            "name = \"hang\"\nsummary = \"a step that hangs\"\ndescription = \"ended by a signal\"\n\
             [[steps]]\ntitle = \"hangs\"\nexplain = \"never ends by itself\"\nrun = \"{hang}\"\n"
        ),
    );
    let (json, err_file) = (dir.join("hang.json"), dir.join("hang.stderr"));
    let mut cmd = sb.command(&["scenario", "run", "--file", f.to_str().unwrap(), "--clients", "20.10"]);
    cmd.args(["--json", json.to_str().unwrap()]).stdin(Stdio::null()).stdout(Stdio::null());
    let mut child = cmd.stderr(std::fs::File::create(&err_file).unwrap()).spawn().unwrap();
    let running = || {
        sb.exec("client", "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done")
            .stdout
            .contains(&hang)
    };
    let started = Instant::now();
    while !running() {
        assert!(started.elapsed() < Duration::from_secs(300), "the step never started");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its step started");
        std::thread::sleep(Duration::from_millis(200));
    }
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]), None).assert_ok("kill");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the run did not end after SIGTERM");
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(status, Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM: killed the step's"), "{stderr}");
    assert!(stderr.contains("the client runs docker CLI 28.5 again"), "{stderr}");
    assert!(!running(), "the step's processes survived");
    assert_eq!(versions(sb)["client cli"], before, "the sandbox's own client CLI is back");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(m["interrupted"], "SIGTERM", "{m}");
    assert_eq!(m["clients"][0]["id"], "20.10", "{m}");
    assert_eq!(m["reports"][0]["scenarios"][0]["steps"][0]["status"], "failed", "{m}");
}

/// A binary brought with file:PATH (here: the 26.1 binary the matrix fetched into the cache) runs,
/// and its reported release picks the per-client expectations.
fn a_binary_of_your_own_is_judged_by_its_version(sb: &Sandbox) {
    let cache = std::env::var_os("TRUST_SANDBOX_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/trust-sandbox"));
    let clis = cache.join("debian/clis");
    let dir = std::fs::read_dir(&clis)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("docker-cli_26.1.5"))
        .expect("the matrix fetched the 26.1 binary");
    let arg = format!("file:{}", dir.path().join("docker").display());
    sb.x(&["up", "--client-cli", &arg]).assert_ok("up --client-cli file:");
    let v = versions(sb);
    assert!(v["docker (cli)"].as_str().unwrap().starts_with("26.1.5"), "{v}");
    assert!(v["client cli"].as_str().unwrap().starts_with(&arg), "{v}");
    let r = sb.x(&["scenario", "run", "signer-remove", "--json", "-"]);
    r.assert_ok("signer-remove on a file: CLI");
    let report = r.json();
    assert_eq!(report["scenarios"][0]["steps"][5]["expectation"], "docker CLI >=26");
}
