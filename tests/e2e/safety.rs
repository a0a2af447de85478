//! Safety and reliability on real engines (issue 9): a name can never reach outside its own
//! things, a sandbox belongs to one state directory, concurrent commands are serialised, failures
//! clean up only what they created, services come back by themselves, and steps time out. Every
//! destructive case runs against a temporary state root and a sandbox of its own.

use std::path::Path;
use std::process::Command;

use trust_sandbox_tests::{free_port, require_engine, run, scenario_file, xtask_bin, Run, Sandbox};

fn xtask_in(state: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(xtask_bin());
    c.arg("sandbox").args(args).env("TRUST_SANDBOX_STATE", state).env("NO_COLOR", "1").env_remove("TRUST_SANDBOX_NAME");
    run(&mut c, None)
}

/// A volume labelled as another sandbox's, which no command on a bad name may remove.
struct Bystander {
    engine: &'static str,
    volume: String,
}

impl Bystander {
    fn new(engine: &'static str, owner: &str) -> Bystander {
        let volume = format!("{owner}-bystander");
        let r = run(
            Command::new(engine).args([
                "volume",
                "create",
                "--label",
                &format!("io.trust-sandbox.instance={owner}"),
                "--label",
                "io.trust-sandbox.id=0000bystander",
                &volume,
            ]),
            None,
        );
        r.assert_ok("creating a bystander volume");
        Bystander { engine, volume }
    }

    fn exists(&self) -> bool {
        run(Command::new(self.engine).args(["volume", "inspect", &self.volume]), None).ok()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = run(Command::new(self.engine).args(["volume", "rm", "--force", &self.volume]), None);
    }
}

#[test]
fn a_bad_name_is_refused_before_any_disk_or_engine_access() {
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("states");
    // A sibling of the state root and another sandbox's state: neither may be touched.
    std::fs::create_dir_all(root.path().join("outside")).unwrap();
    std::fs::write(root.path().join("outside/keep"), "keep").unwrap();
    std::fs::create_dir_all(state.join("other")).unwrap();
    std::fs::write(state.join("other/keep"), "keep").unwrap();
    let bystanders: Vec<Bystander> = ["docker", "podman"]
        .into_iter()
        .map(|e| {
            require_engine(e);
            Bystander::new(e, "tse2e-safety-other")
        })
        .collect();

    for name in ["", "..", "../outside", ".", "a/b", "a b", "-rf", "Upper", "a..b", "x\n"] {
        for engine in ["docker", "podman"] {
            for command in [&["destroy"][..], &["up"], &["down"], &["status"]] {
                let mut args = vec!["--name", name, "--engine", engine];
                args.extend_from_slice(command);
                let r = xtask_in(&state, &args);
                r.assert_fails_with(&format!("{command:?} --name {name:?}"), "invalid sandbox name");
                assert!(r.stderr.contains("lowercase letters, digits"), "the error states the rule:\n{}", r.stderr);
            }
        }
    }
    // The environment variable is held to the same rule.
    let mut c = Command::new(xtask_bin());
    c.args(["sandbox", "destroy"]).env("TRUST_SANDBOX_STATE", &state).env("TRUST_SANDBOX_NAME", "");
    run(&mut c, None).assert_fails_with("TRUST_SANDBOX_NAME=\"\" destroy", "invalid sandbox name");

    assert_eq!(std::fs::read_to_string(root.path().join("outside/keep")).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(state.join("other/keep")).unwrap(), "keep");
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 1, "nothing created in the state root");
    for b in &bystanders {
        assert!(b.exists(), "{}: another sandbox's volume was removed", b.engine);
    }
}

#[test]
fn home_unset_is_refused_instead_of_a_system_wide_state() {
    let mut c = Command::new(xtask_bin());
    c.args(["sandbox", "--name", "tse2e-safety-home", "status"])
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("TRUST_SANDBOX_STATE")
        .env("NO_COLOR", "1");
    let r = run(&mut c, None);
    r.assert_fails_with("status without HOME", "HOME is not set");
    assert!(r.stderr.contains("TRUST_SANDBOX_STATE"), "says what to set:\n{}", r.stderr);
}

#[test]
fn ports_are_validated_before_anything_is_created() {
    let state = tempfile::tempdir().unwrap();
    let p = free_port().to_string();
    for (args, needle) in [
        (vec!["up", "--server-port", "0"], "--server-port 0"),
        (vec!["up", "--registry-port", "0"], "--registry-port 0"),
        (vec!["up", "--server-port", &p, "--registry-port", &p], "the same port"),
    ] {
        let mut full = vec!["--name", "tse2e-safety-ports", "--engine", "docker"];
        full.extend(args);
        xtask_in(state.path(), &full).assert_fails_with("bad ports", needle);
        assert!(!state.path().join("tse2e-safety-ports").exists(), "state created for bad ports");
    }
}

#[test]
fn docker_ownership_locking_and_cleanup() {
    ownership_locking_and_cleanup("docker");
}

#[test]
fn podman_ownership_locking_and_cleanup() {
    ownership_locking_and_cleanup("podman");
}

/// Items 2, 3, 4, 6, 11: one sandbox, attacked from a second state root, raced, broken, and kept.
fn ownership_locking_and_cleanup(engine: &str) {
    require_engine(engine);
    let sb = Sandbox::new(engine, "owner");
    let (s, r) = (sb.server_port.to_string(), sb.registry_port.to_string());

    // Two `up` at once on a new name: one waits for the other; one state, one CA, one network.
    let mut a = sb.command(&["up", "--server-port", &s, "--registry-port", &r]);
    let mut b = sb.command(&["up", "--server-port", &s, "--registry-port", &r]);
    let (ha, hb) = (std::thread::spawn(move || run(&mut a, None)), std::thread::spawn(move || run(&mut b, None)));
    let (ra, rb) = (ha.join().unwrap(), hb.join().unwrap());
    ra.assert_ok("first concurrent up");
    rb.assert_ok("second concurrent up");
    assert!(
        ra.stderr.contains("waiting for") || rb.stderr.contains("waiting for"),
        "one of them waited for the other:\n{}\n{}",
        ra.stderr,
        rb.stderr
    );
    assert_eq!(sb.labelled("network").len(), 1, "one network");
    healthy(&sb);
    let ids = container_ids(&sb);

    // A second state root (or a lost HOME) naming the same sandbox is refused and says who owns it.
    let other = tempfile::tempdir().unwrap();
    let foreign = |args: &[&str]| {
        let mut c = Command::new(xtask_bin());
        c.arg("sandbox").args(["--name", &sb.name, "--engine", engine]).args(args);
        c.env("TRUST_SANDBOX_STATE", other.path()).env("NO_COLOR", "1");
        run(&mut c, None)
    };
    for cmd in [&["up", "--server-port", &s, "--registry-port", &r][..], &["destroy"], &["down"]] {
        let out = foreign(cmd);
        out.assert_fails_with(&format!("{cmd:?} from another state root"), "belongs to another state directory");
        assert!(out.stderr.contains(&sb.state_dir().display().to_string()), "names the owner:\n{}", out.stderr);
    }
    assert!(!other.path().join(&sb.name).exists(), "no state created in the second root");
    assert_eq!(container_ids(&sb), ids, "the running sandbox was touched");

    // A failed pre-flight check leaves the running sandbox alone.
    let secrets = sb.state_dir().join("secrets.json");
    std::fs::set_permissions(&secrets, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    sb.up().assert_fails_with("up with loose secrets", "chmod 600");
    assert_eq!(container_ids(&sb), ids, "a failed pre-flight check removed running containers");
    std::fs::set_permissions(&secrets, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    // A truncated leaf key is re-issued from the CA, not a reason to destroy anything.
    let key = sb.state_dir().join("pki/notarysigner.key");
    let text = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, &text[..text.len() / 2]).unwrap();
    let up = sb.up();
    up.assert_ok("up with a truncated leaf key");
    assert!(!up.stderr.contains("destroy"), "advice to destroy for a leaf:\n{}", up.stderr);
    assert_ne!(std::fs::read_to_string(&key).unwrap(), text, "leaf re-issued");
    healthy(&sb);

    // A deleted secrets.json on a sandbox with trust data is refused, not regenerated.
    let saved = std::fs::read(&secrets).unwrap();
    std::fs::remove_file(&secrets).unwrap();
    sb.up().assert_fails_with("up without secrets.json", "secrets.json is missing");
    assert!(!secrets.exists(), "secrets regenerated for existing trust data");
    std::fs::write(&secrets, &saved).unwrap();
    std::fs::set_permissions(&secrets, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    healthy(&sb);

    // destroy without the engine refuses, and keeps the keys.
    let empty = tempfile::tempdir().unwrap();
    let mut c = sb.command(&["destroy"]);
    c.env("PATH", empty.path());
    run(&mut c, None).assert_fails_with("destroy without the engine", "nothing was removed");
    assert!(sb.state_dir().join("pki/ca.key").exists(), "keys deleted while the engine was missing");
    assert!(!sb.labelled("volume").is_empty(), "volumes gone");
    healthy(&sb);
}

fn healthy(sb: &Sandbox) {
    let st = sb.x(&["status", "--json"]);
    st.assert_ok("status");
    for s in st.json()["services"].as_array().unwrap() {
        assert_eq!(s["ready"], true, "{s}");
    }
}

fn container_ids(sb: &Sandbox) -> Vec<String> {
    let r = sb.engine_cli(&[
        "ps",
        "--all",
        "--filter",
        &format!("label=io.trust-sandbox.instance={}", sb.name),
        "--format",
        "{{.ID}} {{.Status}}",
    ]);
    r.assert_ok("ps");
    let mut v: Vec<String> =
        r.stdout.lines().map(|l| l.split_whitespace().next().unwrap_or_default().to_string()).collect();
    v.sort();
    v
}

#[test]
fn docker_services_come_back_and_steps_time_out() {
    services_come_back_and_steps_time_out("docker");
}

#[test]
fn podman_services_come_back_and_steps_time_out() {
    services_come_back_and_steps_time_out("podman");
}

/// Items 7, 8, 10, 12, 14 and `exec`, on one sandbox.
fn services_come_back_and_steps_time_out(engine: &str) {
    require_engine(engine);
    let sb = Sandbox::new(engine, "revive");
    sb.up().assert_ok("up");

    exec_passes_the_exit_code_and_presets_the_trust_env(&sb);
    the_signer_passphrase_is_not_in_inspect(&sb);

    // A service that dies by itself comes back, and then a signed push works.
    for service in ["db", "notarysigner", "notaryserver"] {
        let pid = sb.engine_cli(&["inspect", "--format", "{{.State.Pid}}", &sb.container(service)]);
        pid.assert_ok("pid");
        let killed = run(Command::new("kill").args(["-KILL", pid.stdout.trim()]), None);
        killed.assert_ok(&format!("killing {service}"));
        wait_until_ready(&sb, &format!("{service} killed"));
        signed_push(&sb, &format!("after {service} was killed"));
    }

    // Readiness means the next signed push works: a stopped signer brought back by `up`.
    for round in 1..=3 {
        sb.engine_cli(&["stop", &sb.container("notarysigner")]).assert_ok("stopping the signer");
        let st = sb.x(&["status", "--json"]);
        assert_ne!(st.code, 0, "status must not call a sandbox without its signer ready");
        let server = &st.json()["services"][2];
        assert_eq!(server["ready"], false, "the server cannot sign without its signer: {server}");
        sb.up().assert_ok("up brings the signer back");
        signed_push(&sb, &format!("right after up, round {round}"));
    }

    // The signer's readiness tells the truth: its port stays open while its database is down,
    // and then it is not ready, and says why.
    sb.engine_cli(&["stop", &sb.container("db")]).assert_ok("stopping the db");
    let st = sb.x(&["status", "--json"]);
    assert_ne!(st.code, 0, "status must not call a sandbox without its database ready");
    let signer = &st.json()["services"][1];
    assert_eq!(signer["service"], "notarysigner", "{signer}");
    assert_eq!(signer["ready"], false, "the signer cannot sign without its database: {signer}");
    assert!(signer["detail"].as_str().unwrap().contains("database account cannot read"), "{signer}");
    sb.up().assert_ok("up brings the db back");
    signed_push(&sb, "after the db came back");

    // An exited container gets a hint in `status`.
    sb.engine_cli(&["stop", &sb.container("registry")]).assert_ok("stopping the registry");
    let st = sb.x(&["status"]);
    assert!(st.stdout.contains("logs registry"), "status hints at the log:\n{}", st.stdout);
    sb.up().assert_ok("up again");

    // Images belong to an engine: `--engine` lists the other engine's, whatever this sandbox's is.
    let other = if engine == "docker" { "podman" } else { "docker" };
    let mut c = Command::new(xtask_bin());
    c.args(["sandbox", "--name", &sb.name, "--engine", other, "images", "list"]);
    c.env("TRUST_SANDBOX_STATE", sb.state.path()).env("NO_COLOR", "1");
    run(&mut c, None).assert_ok(&format!("images list --engine {other} beside a {engine} sandbox"));

    step_timeout_kills_the_step_and_long_steps_stream(&sb);
    ctrl_c_kills_the_running_step(&sb);
    a_report_into_a_missing_directory_fails_before_the_run(&sb);
    env_leaves_other_https_hosts_alone(&sb);
}

fn wait_until_ready(sb: &Sandbox, what: &str) {
    // Polls with a generous bound: the assertion is that it comes back, not how fast.
    for _ in 0..240 {
        let st = sb.x(&["status", "--json"]);
        if st.ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("{what}: the sandbox never became ready again:\n{}", sb.x(&["status"]).stdout);
}

fn signed_push(sb: &Sandbox, what: &str) {
    let script = r#"set -e
n=$(mktemp -d); date +%s%N > "$n/nonce"
tar -C "$n" -c . | docker import - sandboxregistry:5000/test/safety:latest >/dev/null
docker push sandboxregistry:5000/test/safety:latest"#;
    let r = sb.x(&["exec", "--", "sh", "-c", script]);
    r.assert_ok(&format!("signed push {what}"));
    assert!(r.stdout.contains("Successfully signed"), "{what}: {}", r.stdout);
}

fn exec_passes_the_exit_code_and_presets_the_trust_env(sb: &Sandbox) {
    let r = sb.x(&["exec", "--", "sh", "-c", "exit 7"]);
    assert_eq!(r.code, 7, "exit code passed through: {}", r.stderr);
    // A code above 128 is the command's own: nothing is claimed about a signal it cannot know.
    for (script, code) in [("exit 130", 130), ("kill -9 $$", 137), ("exit 143", 143)] {
        let r = sb.x(&["exec", "--", "sh", "-c", script]);
        assert_eq!(r.code, code, "{script}: {}", r.stderr);
        assert!(!r.stderr.contains("killed by"), "{script}: a story about a signal:\n{}", r.stderr);
    }
    let r = sb.x(&[
        "exec",
        "--",
        "sh",
        "-c",
        "test -n \"$DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE\" && echo $DOCKER_CONTENT_TRUST",
    ]);
    r.assert_ok("trust env");
    assert_eq!(r.stdout.trim(), "1");
    let r = sb.x(&["exec", "--identity", "alice", "--", "sh", "-c", "echo $DOCKER_CONFIG"]);
    r.assert_ok("exec --identity");
    assert!(r.stdout.trim().ends_with("/alice"), "{}", r.stdout);
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state_dir().join("secrets.json")).unwrap()).unwrap();
    let pass = secrets["trust_root_passphrase"].as_str().unwrap();
    let ps = sb.engine_cli(&["top", &sb.container("client")]);
    assert!(!ps.stdout.contains(pass), "a passphrase on argv");
}

fn the_signer_passphrase_is_not_in_inspect(sb: &Sandbox) {
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state_dir().join("secrets.json")).unwrap()).unwrap();
    let pass = secrets["signer_alias_passphrase"].as_str().unwrap();
    let inspect = sb.engine_cli(&["inspect", &sb.container("notarysigner")]);
    inspect.assert_ok("inspect");
    assert!(!inspect.stdout.contains(pass), "the signer's passphrase shows in `inspect`");
}

fn step_timeout_kills_the_step_and_long_steps_stream(sb: &Sandbox) {
    let f = scenario_file(
        sb.state.path(),
        "slow",
        r#"
name = "slow"
summary = "a step that streams, then one that hangs"
description = "Long steps stream their output; a hung step is killed at its timeout."
[[steps]]
title = "Ticks"
explain = "Prints a line a second for a while."
run = "for i in 1 2 3 4 5 6; do echo tick-$i; sleep 1; done"
[[steps]]
title = "Hangs"
explain = "Never finishes on its own."
timeout = "3s"
run = "echo started; sleep 1234"
"#,
    );
    let r = sb.x(&["scenario", "run", "--file", f.to_str().unwrap(), "--json", "-"]);
    assert_ne!(r.code, 0, "a timed-out step fails the run:\n{}", r.stderr);
    assert!(r.stderr.contains("│ tick-1"), "the long step's output streamed:\n{}", r.stderr);
    let report = r.json();
    let hung = &report["scenarios"][0]["steps"][1];
    assert_eq!(hung["status"], "failed", "{hung}");
    assert!(hung.to_string().contains("timed out after 3 s"), "{hung}");
    let ps = sb.exec("client", "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done");
    assert!(!ps.stdout.contains("sleep 1234"), "the step's processes survived its timeout:\n{}", ps.stdout);
}

/// Ctrl-C (SIGINT to the tool, as the terminal sends it) kills the running step's processes in
/// the container, and the run ends with 130.
fn ctrl_c_kills_the_running_step(sb: &Sandbox) {
    let f = scenario_file(
        sb.state.path(),
        "hang",
        r#"
name = "hang"
summary = "a step that hangs until interrupted"
description = "Ctrl-C must not leave it running in the client."
[[steps]]
title = "Hangs"
explain = "Never finishes on its own."
run = "sleep 4321"
"#,
    );
    let mut cmd = sb.command(&["scenario", "run", "--file", f.to_str().unwrap()]);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let running = || {
        sb.exec("client", "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done")
            .stdout
            .contains("sleep 4321")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !running() {
        assert!(std::time::Instant::now() < deadline, "the step never started");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    run(Command::new("kill").args(["-INT", &child.id().to_string()]), None).assert_ok("sending SIGINT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "an interrupted run exits 130");
    assert!(!running(), "the interrupted step still runs in the client");
}

fn a_report_into_a_missing_directory_fails_before_the_run(sb: &Sandbox) {
    let missing = sb.state.path().join("no/such/dir/report.json");
    let r = sb.x(&["scenario", "run", "guide", "--json", missing.to_str().unwrap()]);
    r.assert_fails_with("report into a missing directory", "no/such/dir");
    assert!(!r.stderr.contains("[1/"), "the run started before the report path was checked:\n{}", r.stderr);
}

fn env_leaves_other_https_hosts_alone(sb: &Sandbox) {
    let r = sb.x(&["env"]);
    r.assert_ok("env");
    assert!(!r.stdout.contains("CURL_CA_BUNDLE"), "{}", r.stdout);
    assert!(r.stdout.contains("TRUST_SANDBOX_CA"), "{}", r.stdout);
}

#[test]
fn docker_an_interrupted_first_db_initialisation_is_redone() {
    interrupted_first_db_initialisation_is_redone("docker");
}

#[test]
fn podman_an_interrupted_first_db_initialisation_is_redone() {
    interrupted_first_db_initialisation_is_redone("podman");
}

/// Item 5: a DB killed during its first initialisation leaves `mysql/` but no complete datadir.
/// The next `up` initialises it again instead of failing on InnoDB corruption for good.
fn interrupted_first_db_initialisation_is_redone(engine: &str) {
    require_engine(engine);
    let sb = Sandbox::new(engine, "dbinit");
    sb.up().assert_ok("up");
    let image = sb.engine_cli(&["inspect", "--format", "{{.Config.Image}}", &sb.container("db")]);
    image.assert_ok("db image");
    let volume = format!("{}-db", sb.name);
    // What a start killed in the middle of mariadb-install-db leaves: the system schema's
    // directory, a truncated tablespace, no notary databases, no completion marker; and, killed
    // earlier still (seen on a cold machine), InnoDB files without the system schema's directory.
    let wrecks = [
        "mkdir /var/lib/mysql/mysql && head -c 12345 /dev/urandom > /var/lib/mysql/ibdata1",
        "head -c 12345 /dev/urandom > /var/lib/mysql/ibdata1 && : > /var/lib/mysql/aria_log.00000001",
    ];
    for wreck in wrecks {
        sb.x(&["down"]).assert_ok("down");
        let script =
            format!("rm -rf /var/lib/mysql/* /var/lib/mysql/.[!.]* && {wreck} && chown -R mysql:mysql /var/lib/mysql");
        sb.engine_cli(&[
            "run",
            "--rm",
            "--mount",
            &format!("type=volume,source={volume},target=/var/lib/mysql"),
            "--entrypoint",
            "sh",
            image.stdout.trim(),
            "-c",
            &script,
        ])
        .assert_ok("leaving a half-initialised datadir");
        let up = sb.up();
        up.assert_ok(&format!("up over a half-initialised datadir ({wreck})"));
        let log = sb.engine_cli(&["logs", &sb.container("db")]);
        let log = format!("{}{}", log.stdout, log.stderr);
        assert!(log.contains("never finished"), "the DB log says why it initialised again ({wreck}):\n{log}");
        signed_push(&sb, "after the DB was initialised again");
    }
}
