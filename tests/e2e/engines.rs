//! The sandbox on real engines, docker and podman alike: lifecycle, readiness, mutual TLS, the
//! scenarios, and trust data surviving a restart.

use std::os::unix::fs::PermissionsExt;

use trust_sandbox_tests::{require_engine, scenario_file, Sandbox};

#[test]
fn docker_end_to_end() {
    end_to_end("docker");
}

#[test]
fn podman_end_to_end() {
    end_to_end("podman");
}

fn end_to_end(engine: &str) {
    require_engine(engine);
    let sb = Sandbox::new(engine, "main");
    sb.up().assert_ok("up");

    every_service_is_ready(&sb);
    server_health_is_verified_with_our_ca_only(&sb);
    signer_refuses_a_client_without_certificate(&sb);
    private_keys_are_owner_only(&sb);
    versions_name_what_runs(&sb);
    unknown_service_is_one_clear_error(&sb);

    all_scenarios_pass_with_reports(&sb);
    guide_passes_twice_in_a_row(&sb);
    new_scenarios_pass_a_second_time(&sb);
    runner_fails_when_an_expectation_is_not_met(&sb);
    step_mode_follows_scripted_answers(&sb);

    second_up_changes_nothing(&sb);
    up_removes_the_container_of_a_retired_service(&sb);
    trust_data_survives_down_and_up(&sb);
}

fn every_service_is_ready(sb: &Sandbox) {
    let st = sb.x(&["status", "--json"]);
    st.assert_ok("status");
    let v = st.json();
    let services = v["services"].as_array().expect("services");
    let names: Vec<&str> = services.iter().map(|s| s["service"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "notarysigner", "notaryserver", "registry", "client"]);
    for s in services {
        assert_eq!(s["ready"], true, "{s}");
        assert_eq!(s["state"], "running", "{s}");
    }
    assert_eq!(v["engine"], sb.engine);
}

fn server_health_is_verified_with_our_ca_only(sb: &Sandbox) {
    let url = format!("https://127.0.0.1:{}/_notary_server/health", sb.server_port);
    let ca = std::fs::read(sb.state_dir().join("pki/ca.crt")).expect("the sandbox CA");
    let cert = ureq::tls::Certificate::from_pem(&ca).unwrap().to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![cert])))
        .build();
    let ours: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let mut resp = ours.get(&url).call().expect("health over TLS with our CA");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.body_mut().read_to_string().unwrap().trim(), "{}");

    // The public web roots must not vouch for a sandbox certificate.
    let public: ureq::Agent = ureq::Agent::config_builder().build().into();
    let err = public.get(&url).call().expect_err("a client without our CA must refuse the server");
    assert!(format!("{err}").to_lowercase().contains("certificate"), "{err}");

    // The client container trusts it through the CA the docker CLI reads.
    let r = sb.exec("client", "curl -fsS --cacert '/root/.docker/tls/notaryserver:4443/ca.crt' https://notaryserver:4443/_notary_server/health");
    r.assert_ok("health from the client by name");
    assert_eq!(r.stdout.trim(), "{}");
}

fn signer_refuses_a_client_without_certificate(sb: &Sandbox) {
    // TLS 1.2 so that the refusal happens inside the handshake, where curl reports the alert
    // (with 1.3 the server's verdict arrives after curl considers the handshake done).
    let probe = |extra: &str| {
        sb.exec(
            "client",
            &format!("curl -sS -o /dev/null --tls-max 1.2 --cacert /etc/sandbox/ca.crt {extra} https://notarysigner:7899/ 2>&1; echo \"exit=$?\""),
        )
        .stdout
    };
    let without = probe("");
    assert!(
        without.contains("alert bad certificate") && without.contains("exit=35"),
        "signer accepted a client without certificate:\n{without}"
    );

    // Control: the same request with a certificate from our CA gets through the handshake and
    // fails only at the HTTP/2 level (curl is not a gRPC client).
    let pki = sb.state_dir().join("pki");
    let target = sb.container("client");
    for f in ["notaryserver.crt", "notaryserver.key"] {
        let dst = format!("{target}:/tmp/e2e-{f}");
        sb.engine_cli(&["cp", pki.join(f).to_str().unwrap(), &dst]).assert_ok("copying a client certificate");
    }
    let with = probe("--cert /tmp/e2e-notaryserver.crt --key /tmp/e2e-notaryserver.key");
    sb.exec("client", "rm -f /tmp/e2e-notaryserver.*").assert_ok("removing the copied key");
    assert!(!with.contains("alert") && !with.contains("exit=35"), "a client with our certificate was refused:\n{with}");

    // The server holds such a certificate; its health check covers the signer.
    let s = sb.x(&["status", "--json"]).json();
    assert_eq!(s["services"][2]["ready"], true);
}

fn private_keys_are_owner_only(sb: &Sandbox) {
    let pki = sb.state_dir().join("pki");
    let mut keys = 0;
    for e in std::fs::read_dir(&pki).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "key") {
            keys += 1;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    assert_eq!(keys, 3, "ca, notaryserver and notarysigner keys");
    let secrets = sb.state_dir().join("secrets.json");
    assert_eq!(std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777, 0o600);
}

fn versions_name_what_runs(sb: &Sandbox) {
    let v = sb.x(&["versions", "--json"]);
    v.assert_ok("versions");
    let v = v.json();
    assert!(v["notary-server"].as_str().unwrap().starts_with("0.7.0"), "{v}");
    assert!(v["registry"].as_str().unwrap().contains("2.8"), "{v}");
    let major: u32 = v["docker (cli)"].as_str().unwrap().split('.').next().unwrap().parse().unwrap();
    assert!(major <= 28, "docker CLI {major} has no content trust");
    assert!(v["database"].as_str().unwrap().chars().next().unwrap().is_ascii_digit(), "{v}");
}

fn unknown_service_is_one_clear_error(sb: &Sandbox) {
    sb.x(&["logs", "mysqlx"]).assert_fails_with("logs of an unknown service", "unknown service `mysqlx`");
    let logs = sb.x(&["logs", "registry", "--tail", "5"]);
    logs.assert_ok("logs registry");
}

fn all_scenarios_pass_with_reports(sb: &Sandbox) {
    let junit = sb.state.path().join("report.junit.xml");
    let r = sb.x(&["scenario", "run", "--all", "--json", "-", "--junit", junit.to_str().unwrap()]);
    r.assert_ok("scenario run --all");
    let report = r.json();
    assert_eq!(report["schema"], "trust-sandbox/scenario-report/v1");
    let names: Vec<&str> =
        report["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    // Every scenario of the catalogue, in its order, as `scenario list` names them.
    let listed = sb.x(&["scenario", "list", "--json", "-"]);
    listed.assert_ok("scenario list");
    let catalogue: Vec<String> =
        listed.json().as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(catalogue.first().map(String::as_str), Some("guide"), "{catalogue:?}");
    assert_eq!(names, catalogue);
    for s in report["scenarios"].as_array().unwrap() {
        for step in s["steps"].as_array().unwrap() {
            assert_eq!(step["status"], "passed", "{}: {step}", s["name"]);
        }
    }
    assert_eq!(report["summary"]["failed"], 0);
    let summary = format!("{} passed, 0 failed", catalogue.len());
    assert!(r.stderr.lines().any(|l| l.trim() == summary), "{}", r.stderr);
    let xml = std::fs::read_to_string(&junit).expect("JUnit report written");
    assert!(xml.contains("<testsuite name=\"guide\""), "{xml}");

    // What each scenario is there to show, from the outside.
    let guide = &report["scenarios"][0]["steps"];
    let tail = |i: usize| {
        guide[i]["output_tail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(tail(2).contains("does not have trust data"), "{}", tail(2));
    assert!(tail(7).contains("filesystem layer verification failed for digest"), "{}", tail(7));
    let revoke = &report["scenarios"][2]["steps"];
    let refused = revoke.as_array().unwrap().iter().find(|s| s["title"].as_str().unwrap().contains("refused")).unwrap();
    assert!(refused["output_tail"].to_string().contains("No valid trust data for latest"), "{refused}");
    let rollback = report["scenarios"][3]["steps"].as_array().unwrap().last().unwrap().clone();
    assert!(rollback["output_tail"].to_string().contains("trust data version is lower than expected"), "{rollback}");
    time_and_metadata_attacks_show_what_they_teach(&report);
    no_scenario_container_is_left(sb);
}

/// The time and metadata scenarios (issue 10), read from the report: the clock reached the Go
/// CLIs, the named role is what failed, memory stayed bounded, the impostor's digest was pulled
/// only by the client that skipped TLS on first contact.
fn time_and_metadata_attacks_show_what_they_teach(report: &serde_json::Value) {
    let scenario = |name: &str| -> Vec<serde_json::Value> {
        let s = report["scenarios"].as_array().unwrap().iter().find(|s| s["name"] == name).expect(name);
        s["steps"].as_array().unwrap().clone()
    };
    let step = |steps: &[serde_json::Value], title_part: &str| -> serde_json::Value {
        steps.iter().find(|s| s["title"].as_str().unwrap().contains(title_part)).expect(title_part).clone()
    };
    let tail = |s: &serde_json::Value| s["output_tail"].to_string();

    let expiry = scenario("expiry");
    let ahead = step(&expiry, "Fifteen days ahead");
    assert_eq!(ahead["clock"], "+15d");
    assert!(tail(&ahead).contains("out-of-date: timestamp expired at"), "{ahead}");
    let targets = step(&expiry, "targets has expired");
    assert!(tail(&targets).contains("out-of-date: targets expired at"), "{targets}");
    assert!(!tail(&targets).contains("timestamp expired"), "{targets}");
    assert!(tail(&step(&expiry, "3 years")).contains("publisher clock: "), "the libc clock moved too");

    let freeze = scenario("freeze");
    let v1 = step(&freeze, "signs version 1")["captures"]["v1"].as_str().unwrap().to_string();
    assert!(tail(&step(&freeze, "cannot tell")).contains(&v1));
    assert!(tail(&step(&freeze, "refuses the frozen data")).contains("timestamp expired at"));

    let mix = scenario("mix-and-match");
    let mixed = tail(mix.last().unwrap());
    assert!(
        mixed.contains("checksum for targets did not match") || mixed.contains("trust server returned a bad response"),
        "{mixed}"
    );
    let sigs = scenario("too-few-signatures");
    assert!(tail(&step(&sigs, "first-time client")).contains("valid signatures did not meet threshold for timestamp"));
    assert!(tail(sigs.last().unwrap()).contains("tuf: data has no signatures"));

    let endless = scenario("endless-data");
    let refused = step(&endless, "declared length");
    assert!(tail(&refused).contains("memory bounded: grew by less than the padding served"), "{refused}");

    let cached = scenario("cached-trust");
    assert!(tail(&step(&cached, "from his cache")).contains("using cached timestamp"));
    assert!(tail(&step(&cached, "first-time client")).contains("error contacting notary server"));

    let impostor = scenario("impostor-server");
    let evil = step(&impostor, "uploads her image")["captures"]["evil"].as_str().unwrap().to_string();
    let real = step(&impostor, "signs the real image")["captures"]["real"].as_str().unwrap().to_string();
    assert_ne!(evil, real);
    assert_eq!(step(&impostor, "Mallory signs")["on"], "impostor");
    assert!(tail(&step(&impostor, "(a)")).contains("x509: certificate signed by unknown authority"));
    assert!(tail(&step(&impostor, "(b)")).contains(&format!("@{evil}")), "TOFU pulled the impostor's digest");
    assert!(tail(&step(&impostor, "holding the real root")).contains("could not rotate trust to a new trusted root"));
    assert!(tail(&step(&impostor, "pinned")).contains("unable to match any certificates to trust_pinning config"));
    assert!(tail(&step(&impostor, "notary CLI first")).contains("could not rotate trust to a new trusted root"));
    assert!(tail(impostor.last().unwrap()).contains(&format!("@{real}")));

    // Each killed service came back by itself; the client too (its pid file is on a tmpfs).
    let crash = scenario("crash");
    for title in ["Kill the database", "Kill the signer", "Kill the server", "Kill the registry", "Kill the client"] {
        assert!(tail(&step(&crash, title)).contains("the engine restarted it by itself"), "{title}");
    }
    let v1 = step(&crash, "Sign v1")["captures"]["v1"].as_str().unwrap().to_string();
    assert!(tail(&step(&crash, "v1 is still signed")).contains(&format!(":v1@{v1}")), "v1 kept its signed digest");
}

/// A scenario's own containers go when it ends. What stays besides the stack's five services are
/// the on-demand helpers `cutover` started (the signers for its `migrate` action, the consumer it
/// requires): the sandbox's own, kept as after the `migrate` command until `down`.
fn no_scenario_container_is_left(sb: &Sandbox) {
    let mut names = sb.labelled("container");
    assert!(!names.contains(&sb.container("impostor")), "{names:?}");
    assert!(names.iter().all(|n| !n.contains("--scn-")), "a scenario's own container is left: {names:?}");
    for helper in ["signers", "consumer"] {
        let name = sb.container(helper);
        assert!(names.contains(&name), "cutover's helper {name} is not there: {names:?}");
        names.retain(|n| *n != name);
    }
    assert_eq!(names.len(), 5, "only the stack's five services besides the helpers: {names:?}");
}

fn new_scenarios_pass_a_second_time(sb: &Sandbox) {
    let names = [
        "expiry",
        "freeze",
        "mix-and-match",
        "too-few-signatures",
        "endless-data",
        "cached-trust",
        "impostor-server",
        "crash",
    ];
    let mut args = vec!["scenario", "run"];
    args.extend(names);
    args.extend(["--json", "-"]);
    let r = sb.x(&args);
    r.assert_ok("the time and metadata scenarios, second round");
    assert_eq!(r.json()["summary"]["passed"], names.len());
}

fn guide_passes_twice_in_a_row(sb: &Sandbox) {
    for round in 1..=2 {
        let r = sb.x(&["play", "--json", "-"]);
        r.assert_ok(&format!("play, round {round}"));
        assert_eq!(r.json()["summary"]["passed"], 1);
        assert!(r.stderr.contains("Using running sandbox"), "play must reuse the running sandbox:\n{}", r.stderr);
    }
}

fn runner_fails_when_an_expectation_is_not_met(sb: &Sandbox) {
    let f = scenario_file(
        sb.state.path(),
        "must-fail",
        r#"
name = "must-fail"
summary = "an expectation the sandbox cannot meet"
description = "A pull of a never-signed repository does not sign anything."
[[steps]]
title = "Expect the impossible"
explain = "The pull fails; the step expects success and a signature."
run = "docker pull {{registry}}/test/never-signed-{{run_id}}:latest"
expect = { contains = ["Successfully signed"] }
[[steps]]
title = "Never reached"
explain = "Later steps build on earlier ones, so they do not run."
run = "echo unreachable"
"#,
    );
    let r = sb.x(&["scenario", "run", "--file", f.to_str().unwrap(), "--json", "-"]);
    assert_ne!(r.code, 0, "a failed expectation must fail the run:\n{}", r.stderr);
    let report = r.json();
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(steps[0]["status"], "failed");
    assert!(!steps[0]["failures"].as_array().unwrap().is_empty());
    assert_eq!(steps[1]["status"], "not-run");
    assert!(r.stderr.contains('✗'), "{}", r.stderr);
    assert!(r.stderr.contains("does not have trust data"), "actual output shown on failure:\n{}", r.stderr);
}

fn step_mode_follows_scripted_answers(sb: &Sandbox) {
    let f = scenario_file(
        sb.state.path(),
        "stepper",
        r#"
name = "stepper"
summary = "three echoes"
description = "Exercises --step."
[[steps]]
title = "One"
explain = "EXPLAIN-ONE"
run = "echo one"
expect = { contains = ["one"] }
[[steps]]
title = "Two"
explain = "EXPLAIN-TWO"
run = "echo two"
[[steps]]
title = "Three"
explain = "EXPLAIN-THREE"
run = "echo three"
"#,
    );
    // Enter runs the first step, `s` skips the second, `q` quits before the third.
    let r = sb.x_stdin(&["scenario", "run", "--file", f.to_str().unwrap(), "--step", "--json", "-"], "\ns\nq\n");
    let report = r.json();
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(steps[0]["status"], "passed", "{report}");
    assert_eq!(steps[1]["status"], "skipped", "{report}");
    assert_eq!(steps[2]["status"], "not-run", "{report}");
    for e in ["EXPLAIN-ONE", "EXPLAIN-TWO", "EXPLAIN-THREE"] {
        assert!(r.stderr.contains(e), "explanation {e} shown before its step:\n{}", r.stderr);
    }
    assert_ne!(r.code, 0, "quitting leaves the scenario unfinished");
}

fn second_up_changes_nothing(sb: &Sandbox) {
    let before: Vec<String> = sb
        .engine_cli(&["ps", "-q", "--no-trunc", "--filter", &format!("label=io.trust-sandbox.instance={}", sb.name)])
        .stdout
        .lines()
        .map(String::from)
        .collect();
    let r = sb.up();
    r.assert_ok("second up");
    assert!(!r.stderr.contains("Migrated"), "a second up applied migrations again:\n{}", r.stderr);
    assert!(r.stderr.contains("Schema up to date"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("Fresh").count(), 5, "every container kept:\n{}", r.stderr);
    let after: Vec<String> = sb
        .engine_cli(&["ps", "-q", "--no-trunc", "--filter", &format!("label=io.trust-sandbox.instance={}", sb.name)])
        .stdout
        .lines()
        .map(String::from)
        .collect();
    // The five services, and the two helpers `cutover` started (kept until `down`).
    assert_eq!(before.len(), 7, "{before:?}");
    let (mut b, mut a) = (before, after);
    b.sort();
    a.sort();
    assert_eq!(a, b, "containers were replaced");
}

/// A sandbox created before the client service was renamed has a `<name>-notarysandbox`
/// container on the client's trust volume; `up` removes it and keeps the volume.
fn up_removes_the_container_of_a_retired_service(sb: &Sandbox) {
    let keys = sb.exec("client", "ls /root/.docker/trust/private | sort").stdout;
    let status = sb.x(&["status", "--json"]).json();
    let services = status["services"].as_array().expect("services");
    let client = services.iter().find(|s| s["service"] == "client").expect("a client service");
    let client_image = client["image"].as_str().expect("the client's image").to_string();
    let leftover = sb.container("notarysandbox");
    sb.engine_cli(&[
        "run",
        "--detach",
        "--name",
        &leftover,
        "--label",
        &format!("io.trust-sandbox.instance={}", sb.name),
        "--label",
        "io.trust-sandbox.service=notarysandbox",
        // As the old tool labelled it: with this sandbox's id (the state's), so it is this
        // sandbox's and not another state's (which `up` would refuse to touch).
        "--label",
        &format!("io.trust-sandbox.id={}", state_id(sb)),
        "--mount",
        &format!("type=volume,source={}-client-trust,target=/root/.docker/trust", sb.name),
        &client_image,
        "sleep",
        "infinity",
    ])
    .assert_ok("starting a leftover of the old client service");

    let r = sb.up();
    r.assert_ok("up with a leftover container");
    assert!(r.stderr.contains(&format!("container {leftover}")), "{}", r.stderr);
    assert!(!sb.labelled("container").contains(&leftover), "the leftover is still there");
    let left = sb.labelled("container");
    assert_eq!(left.len(), 7, "the five services and cutover's two helpers, kept by `up`: {left:?}");
    assert_eq!(sb.labelled("volume").len(), 3, "volumes are trust data and stay");
    assert_eq!(sb.exec("client", "ls /root/.docker/trust/private | sort").stdout, keys, "client keys changed");
}

fn state_id(sb: &Sandbox) -> String {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state_dir().join("state.json")).unwrap()).unwrap();
    state["id"].as_str().expect("an id in state.json").to_string()
}

fn trust_data_survives_down_and_up(sb: &Sandbox) {
    let rows = |sb: &Sandbox| {
        (
            sb.sql("SELECT COUNT(*) FROM notaryserver.tuf_files"),
            sb.sql("SELECT COUNT(*) FROM notarysigner.private_keys"),
            sb.sql("SELECT COUNT(*) FROM notaryserver.sandbox_schema_migrations"),
        )
    };
    let before = rows(sb);
    assert_ne!(before.0, "0", "the scenarios signed something");
    let keys = |sb: &Sandbox| sb.exec("client", "ls /root/.docker/trust/private | sort").stdout;
    let keys_before = keys(sb);
    assert!(!keys_before.trim().is_empty(), "the client holds root/repository keys");
    let ca_before = std::fs::read(sb.state_dir().join("pki/ca.crt")).unwrap();
    let signed = |sb: &Sandbox| {
        let r = sb.exec("client", "docker trust inspect sandboxregistry:5000/test/tagswap:latest");
        r.assert_ok("trust inspect");
        r.stdout
    };
    let signed_before = signed(sb);

    sb.x(&["down"]).assert_ok("down");
    assert!(sb.labelled("container").is_empty(), "containers left after down: {:?}", sb.labelled("container"));
    assert!(sb.labelled("network").is_empty(), "network left after down");
    assert_eq!(sb.labelled("volume").len(), 3, "volumes are trust data and stay");
    sb.x(&["down"]).assert_ok("down is idempotent");

    sb.up().assert_ok("up after down");
    assert_eq!(rows(sb), before, "database rows lost across down/up");
    assert_eq!(keys(sb), keys_before, "client keys lost across down/up");
    assert_eq!(std::fs::read(sb.state_dir().join("pki/ca.crt")).unwrap(), ca_before, "CA replaced");
    assert_eq!(signed(sb), signed_before, "signed targets changed across down/up");
    let again = sb.x(&["scenario", "run", "guide"]);
    again.assert_ok("guide after a restart");
}
