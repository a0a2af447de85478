//! Bad input gets one clear error, a non-zero exit, and leaves nothing half-started.

use std::net::TcpListener;
use std::process::Command;

use trust_sandbox_tests::{free_port, require_engine, run, xtask_bin, Run, Sandbox};

fn xtask_in(state: &std::path::Path, args: &[&str]) -> Run {
    let mut c = Command::new(xtask_bin());
    c.arg("sandbox").args(args).env("TRUST_SANDBOX_STATE", state).env("NO_COLOR", "1");
    run(&mut c, None)
}

/// The error is a single `error:` line (plus its causes), not a panic or a usage dump.
#[track_caller]
fn one_clear_error(r: &Run) {
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn unknown_scenario_names_the_known_ones() {
    let state = tempfile::tempdir().unwrap();
    let r = xtask_in(state.path(), &["scenario", "run", "gide"]);
    r.assert_fails_with("unknown scenario", "gide");
    assert!(r.stderr.contains("guide") && r.stderr.contains("tag-swap"), "{}", r.stderr);
    one_clear_error(&r);
}

#[test]
fn corrupt_state_is_refused_and_left_alone() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.json"), "{\"schema\": ").unwrap();
    let r = xtask_in(state.path(), &["--name", "broken", "status"]);
    r.assert_fails_with("status of a corrupt sandbox", "corrupt state file");
    one_clear_error(&r);
    assert_eq!(std::fs::read_to_string(dir.join("state.json")).unwrap(), "{\"schema\": ", "state rewritten");
}

#[test]
fn foreign_directory_is_not_taken_over() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("mine");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a sandbox").unwrap();
    let r = xtask_in(state.path(), &["--name", "mine", "up"]);
    r.assert_fails_with("up over a foreign directory", "not a trust-sandbox state directory");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "nothing written into a foreign directory");
}

#[test]
fn missing_engine_says_how_to_install_it() {
    let state = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let mut c = Command::new(xtask_bin());
    c.arg("sandbox")
        .args(["--name", "noengine", "--engine", "podman", "up"])
        .env("TRUST_SANDBOX_STATE", state.path())
        .env("PATH", empty.path())
        .env("NO_COLOR", "1");
    let r = run(&mut c, None);
    r.assert_fails_with("up without an engine", "podman is not installed");
    assert!(r.stderr.contains("setup"), "{}", r.stderr);
    one_clear_error(&r);
    assert!(!state.path().join("noengine").exists(), "no state for a sandbox that never started");
}

#[test]
fn commands_on_a_sandbox_that_does_not_exist() {
    let state = tempfile::tempdir().unwrap();
    let r = xtask_in(state.path(), &["--name", "ghost", "status"]);
    r.assert_fails_with("status of nothing", "no sandbox named `ghost`");
    // down is idempotent: nothing to do is not an error.
    xtask_in(state.path(), &["--name", "ghost", "down"]).assert_ok("down of nothing");
    // destroy of a name that never existed says so and fails, as `rm` of a missing file does: a
    // mistyped --name must not pass for a clean-up.
    let r = xtask_in(state.path(), &["--name", "ghost", "destroy"]);
    r.assert_fails_with("destroy of nothing", "no sandbox named `ghost`");
    assert!(r.stderr.contains("nothing to destroy"), "{}", r.stderr);
    one_clear_error(&r);
    // Every command above took or refused the lock; none left its file.
    let locks = state.path().join(".locks");
    assert!(
        std::fs::read_dir(&locks).map(|d| d.count() == 0).unwrap_or(true),
        "lock files left in {}",
        locks.display()
    );
}

#[test]
fn taken_port_is_reported_with_its_holder_and_nothing_starts() {
    for engine in ["docker", "podman"] {
        require_engine(engine);
        let holder = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = holder.local_addr().unwrap().port();
        let sb = Sandbox::with_ports(engine, "taken", port, free_port());
        let r = sb.up();
        r.assert_fails_with("up on a taken port", &format!("port {port} on 127.0.0.1"));
        assert!(r.stderr.contains(&format!("pid {}", std::process::id())), "holder named:\n{}", r.stderr);
        one_clear_error(&r);
        assert!(sb.labelled("container").is_empty(), "{engine}: containers started");
        assert!(sb.labelled("network").is_empty(), "{engine}: network created");
        assert!(!sb.state_dir().exists(), "{engine}: state created for a sandbox that never started");
    }
}

#[test]
fn host_daemon_mode_is_refused_on_podman_with_the_reason() {
    require_engine("podman");
    let sb = Sandbox::new("podman", "hostd");
    let (server, registry) = (sb.server_port.to_string(), sb.registry_port.to_string());
    let r = sb.x(&["up", "--server-port", &server, "--registry-port", &registry, "--client", "host-daemon", "--yes"]);
    r.assert_fails_with("host-daemon on podman", "cannot sign a trusted push");
    one_clear_error(&r);
    assert!(sb.labelled("container").is_empty());
    assert!(!sb.state_dir().exists());
}

#[test]
fn an_interrupted_up_leaves_nothing_down_cannot_remove() {
    let engine = "docker";
    require_engine(engine);
    let sb = Sandbox::new(engine, "interrupted");
    let (s, r) = (sb.server_port.to_string(), sb.registry_port.to_string());
    let mut child = sb.command(&["up", "--server-port", &s, "--registry-port", &r]).spawn().unwrap();
    // Kill it as soon as the first container exists: mid-way through the start order.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while sb.labelled("container").is_empty() {
        assert!(std::time::Instant::now() < deadline, "up never started a container");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!sb.labelled("container").is_empty(), "the interruption left containers behind, as it would");
    sb.x(&["down"]).assert_ok("down after an interrupted up");
    assert!(sb.labelled("container").is_empty(), "containers left: {:?}", sb.labelled("container"));
    assert!(sb.labelled("network").is_empty(), "network left");
    sb.up().assert_ok("up after the interruption");
}
