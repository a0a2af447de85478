//! Hosts aliasing end to end on the real /etc/hosts: host tools reach the sandbox by the guide's
//! names, and `hosts remove` restores the file byte for byte — also when an assertion fails.

use std::process::Command;

use std::sync::Mutex;

use trust_sandbox_tests::{require_engine, run, xtask_bin, Sandbox};

const HOSTS: &str = "/etc/hosts";

/// Tests that edit the real /etc/hosts take turns.
static HOSTS_FILE: Mutex<()> = Mutex::new(());

/// Puts /etc/hosts back as it was when the test started, whatever happens in between.
struct Restore(Vec<u8>);

impl Drop for Restore {
    fn drop(&mut self) {
        if std::fs::read(HOSTS).ok().as_deref() != Some(&self.0[..]) {
            // Written in place: in containers /etc/hosts is a bind mount that cannot be renamed over.
            std::fs::write(HOSTS, &self.0).expect("restoring /etc/hosts");
        }
    }
}

fn hosts_cmd(args: &[&str]) -> trust_sandbox_tests::Run {
    let mut c = Command::new(xtask_bin());
    c.arg("sandbox").arg("hosts").args(args).env("NO_COLOR", "1");
    run(&mut c, None)
}

/// Whether /etc/hosts already has our block (a user's `hosts add`): then the tests use it and
/// leave it, and never remove what they did not add.
fn block_present() -> bool {
    let show = hosts_cmd(&["show", "--json"]);
    show.assert_ok("hosts show");
    show.json()["present"] == true
}

#[test]
fn host_tools_reach_the_sandbox_by_name() {
    require_engine("docker");
    let _turn = HOSTS_FILE.lock().unwrap_or_else(|e| e.into_inner());
    let original = std::fs::read(HOSTS).expect("reading /etc/hosts");
    let _restore = Restore(original.clone());
    let had_block = block_present();

    let sb = Sandbox::new("docker", "hosts");
    sb.up().assert_ok("up");
    sb.x(&["scenario", "run", "tag-swap"]).assert_ok("sign something to list");

    // Add and remove, byte for byte, on a copy of this machine's hosts file without our block.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("hosts");
    std::fs::write(&copy, &original).unwrap();
    let c = copy.to_str().unwrap();
    if had_block {
        hosts_cmd(&["remove", "--hosts-file", c]).assert_ok("hosts remove on the copy");
    }
    let baseline = std::fs::read(&copy).unwrap();
    let dry = hosts_cmd(&["add", "--dry-run", "--hosts-file", c]);
    dry.assert_ok("hosts add --dry-run");
    assert!(dry.stdout.contains("+127.0.0.1\tnotaryserver sandboxregistry"), "{}", dry.stdout);
    assert_eq!(std::fs::read(&copy).unwrap(), baseline, "--dry-run wrote the file");
    hosts_cmd(&["add", "--hosts-file", c]).assert_ok("hosts add");
    hosts_cmd(&["add", "--hosts-file", c]).assert_ok("hosts add again");
    let text = std::fs::read_to_string(&copy).unwrap();
    assert_eq!(text.matches("notaryserver sandboxregistry").count(), 1, "one block only:\n{text}");
    hosts_cmd(&["remove", "--hosts-file", c]).assert_ok("hosts remove");
    assert_eq!(std::fs::read(&copy).unwrap(), baseline, "hosts file not restored byte for byte");

    // The real file: our block added only if it was not there, and removed only then.
    hosts_cmd(&["add"]).assert_ok("hosts add");
    assert!(block_present());

    let ca = sb.state_dir().join("pki/ca.crt");
    let ca = ca.to_str().unwrap();
    let health = format!("https://notaryserver:{}/_notary_server/health", sb.server_port);
    let curl = run(Command::new("curl").args(["-fsS", "--cacert", ca, &health]), None);
    assert!(curl.ok(), "curl by name: {}", curl.stderr);
    assert_eq!(curl.stdout.trim(), "{}");

    let trust_dir = tempfile::tempdir().unwrap();
    let server = format!("https://notaryserver:{}", sb.server_port);
    let list = run(
        Command::new("notary").args([
            "-s",
            &server,
            "-d",
            trust_dir.path().to_str().unwrap(),
            "--tlscacert",
            ca,
            "list",
            "sandboxregistry:5000/test/tagswap",
        ]),
        None,
    );
    assert!(list.ok(), "notary list by name: {}\n{}", list.stdout, list.stderr);
    assert!(list.stdout.contains("latest"), "{}", list.stdout);

    let env = sb.x(&["env"]);
    env.assert_ok("env");
    assert!(env.stdout.contains("export DOCKER_CONTENT_TRUST='1'"), "{}", env.stdout);
    assert!(env.stdout.contains(&format!("export DOCKER_CONTENT_TRUST_SERVER='{server}'")), "{}", env.stdout);

    if !had_block {
        hosts_cmd(&["remove"]).assert_ok("hosts remove");
    }
    assert_eq!(std::fs::read(HOSTS).unwrap(), original, "/etc/hosts not as it was before the test");
}

#[test]
fn a_foreign_mapping_is_reported_not_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts");
    let content = "127.0.0.1 localhost\n10.0.0.9 notaryserver\n";
    std::fs::write(&file, content).unwrap();
    let r = hosts_cmd(&["add", "--hosts-file", file.to_str().unwrap()]);
    r.assert_fails_with("add over a foreign mapping", "notaryserver");
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), content);
    let show = hosts_cmd(&["show", "--json", "--hosts-file", file.to_str().unwrap()]);
    show.assert_ok("show");
    assert_eq!(show.json()["foreign"].as_array().unwrap().len(), 1);
}

#[test]
fn host_daemon_mode_plays_the_guide_through_the_hosts_dockerd() {
    require_engine("docker");
    let _turn = HOSTS_FILE.lock().unwrap_or_else(|e| e.into_inner());
    let original = std::fs::read(HOSTS).expect("reading /etc/hosts");
    let _restore = Restore(original.clone());
    let had_block = block_present();

    // Beside a user's sandbox: port 5000 (the guide's) is held during the whole test, by the
    // user's registry or else by this listener, and the test's registry has a port of its own.
    let _hold = std::net::TcpListener::bind(("127.0.0.1", 5000));
    assert!(std::net::TcpListener::bind(("127.0.0.1", 5000)).is_err(), "port 5000 is held");
    let sb = Sandbox::new("docker", "hostd");
    let (server, registry) = (sb.server_port.to_string(), sb.registry_port.to_string());
    let up = sb.x(&["up", "--server-port", &server, "--registry-port", &registry, "--client", "host-daemon", "--yes"]);
    up.assert_ok("up --client host-daemon");
    assert_eq!(
        up.stderr.contains("Aliased"),
        !had_block,
        "up adds the hosts aliasing (with consent) only when it is missing:\n{}",
        up.stderr
    );

    // The client's CLI talks to the host's daemon, not one of its own.
    let host_id = run(Command::new("docker").args(["info", "--format", "{{.ID}}"]), None);
    let client_id = sb.exec("client", "docker info --format '{{.ID}}'");
    client_id.assert_ok("docker info in the client");
    assert_eq!(client_id.stdout.trim(), host_id.stdout.trim(), "client does not drive the host daemon");

    let guide = sb.x(&["scenario", "run", "guide", "--json", "-"]);
    guide.assert_ok("guide in host-daemon mode");
    assert_eq!(guide.json()["summary"]["passed"], 1);
    let pushed = guide.json()["scenarios"][0]["steps"].to_string();
    assert!(pushed.contains(&format!("sandboxregistry:{registry}/")), "the host daemon used the test's registry port");

    sb.x(&["destroy"]).assert_ok("destroy");
    if !had_block {
        hosts_cmd(&["remove"]).assert_ok("hosts remove");
    }
    assert_eq!(std::fs::read(HOSTS).unwrap(), original, "/etc/hosts not as it was before the test");
}

#[test]
fn permission_denied_says_how_when_run_unprivileged() {
    // As root, modes do not stop writes; `nobody` meets the real EACCES.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = dir.path().join("hosts");
    std::fs::write(&file, "127.0.0.1 localhost\n").unwrap();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(xtask_bin())
        .args(["sandbox", "hosts", "add", "--hosts-file"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .env("HOME", dir.path());
    let r = run(&mut c, None);
    r.assert_fails_with("hosts add without permission", &format!("permission denied writing {}", file.display()));
    assert!(r.stderr.contains("sudo"), "says how: {}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "127.0.0.1 localhost\n");
}

#[test]
fn a_bind_mounted_hosts_file_is_edited_in_place_and_restored() {
    // Containers bind-mount /etc/hosts, which cannot be renamed over.
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = (dir.path().join("source"), dir.path().join("hosts"));
    let content = "127.0.0.1 localhost\n::1 localhost\n";
    std::fs::write(&source, content).unwrap();
    std::fs::write(&target, "").unwrap();
    let mounted = Command::new("mount").arg("--bind").arg(&source).arg(&target).status().unwrap();
    assert!(mounted.success(), "mount --bind (the e2e tests run as root)");
    let t = target.to_str().unwrap();
    let add = hosts_cmd(&["add", "--hosts-file", t]);
    let after_add = std::fs::read_to_string(&source).unwrap();
    let remove = hosts_cmd(&["remove", "--hosts-file", t]);
    let after_remove = std::fs::read_to_string(&source).unwrap();
    Command::new("umount").arg(&target).status().unwrap();
    add.assert_ok("hosts add on a bind mount");
    remove.assert_ok("hosts remove on a bind mount");
    assert!(after_add.contains("notaryserver sandboxregistry"), "{after_add}");
    assert_eq!(after_remove, content);
}
