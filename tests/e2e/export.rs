//! `export`: the exported stack, started by an orchestrator instead of `up`, plays the guide.
//! The Compose file runs on docker with Debian's docker-compose; the Kubernetes manifests with
//! `podman kube play`. The exported containers keep `up`'s names, so the tool's own `status` and
//! `scenario run` drive them; teardown by the orchestrator must leave nothing behind.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use trust_sandbox_tests::{require_engine, run, Run, Sandbox};

#[test]
fn docker_compose_export_plays_the_guide() {
    compose_plays_the_guide("export", &[]);
}

/// A sandbox made with `--registry-tls --registry-auth` (the stand-in for a registry you own):
/// the exported stack serves TLS, checks the password, and the client logs in by itself.
#[test]
fn docker_compose_export_of_a_tls_registry_with_auth_plays_the_guide() {
    compose_plays_the_guide("exporttls", &["--registry-tls", "--registry-auth"]);
}

#[test]
fn podman_kube_export_plays_the_guide() {
    kube_plays_the_guide("export", &[]);
}

#[test]
fn podman_kube_export_of_a_tls_registry_with_auth_plays_the_guide() {
    kube_plays_the_guide("exporttls", &["--registry-tls", "--registry-auth"]);
}

fn compose_plays_the_guide(purpose: &str, up: &[&str]) {
    require_engine("docker");
    let sb = Sandbox::new("docker", purpose);
    let out = tempfile::tempdir().unwrap();
    let manifest = export(&sb, "compose", out.path(), up);
    assert_eq!(manifest, out.path().canonicalize().unwrap().join("compose.yaml"));

    let compose = |args: &[&str]| -> Run {
        run(Command::new("docker-compose").args(["-p", &sb.name, "-f", manifest.to_str().unwrap()]).args(args), None)
    };
    let project = format!("label=com.docker.compose.project={}", sb.name);
    compose(&["up", "-d"]).assert_ok("docker-compose up -d");
    wait_ready(&sb);
    runtime_state_on_a_tmpfs(&sb);
    a_killed_client_comes_back_by_itself(&sb);
    for service in ["db", "notarysigner", "notaryserver", "registry", "client"] {
        let c = sb.container(service);
        let r = sb.engine_cli(&["inspect", "--format", "{{index .Config.Labels \"com.docker.compose.project\"}}", &c]);
        assert_eq!(r.stdout.trim(), sb.name, "{c} must be the Compose stack's, not up's");
    }
    plays_the_guide(&sb);
    registry_checks_tls_and_password(&sb, up);
    // The readiness the file declares is what made Compose start each service after the last.
    for service in ["db", "notarysigner", "notaryserver", "registry", "client"] {
        let c = sb.container(service);
        let r = sb.engine_cli(&["inspect", "--format", "{{.State.Health.Status}}", &c]);
        assert_eq!(r.stdout.trim(), "healthy", "{c}: its exported healthcheck must pass:\n{}", r.stderr);
    }

    compose(&["down", "--volumes"]).assert_ok("docker-compose down --volumes");
    for kind in [vec!["ps", "--all"], vec!["network", "ls"], vec!["volume", "ls"]] {
        let mut args = kind.clone();
        args.extend(["--quiet", "--filter", &project]);
        let left = sb.engine_cli(&args);
        assert_eq!(left.stdout.trim(), "", "{kind:?} left by the Compose stack");
    }
    assert_eq!(sb.labelled("container"), Vec::<String>::new());
    assert_eq!(sb.labelled("network"), Vec::<String>::new());
    assert_only_ups_volumes(&sb);
}

fn kube_plays_the_guide(purpose: &str, up: &[&str]) {
    require_engine("podman");
    let sb = Sandbox::new("podman", purpose);
    let out = tempfile::tempdir().unwrap();
    let manifest = export(&sb, "kube", out.path(), up);
    let claims: Vec<String> =
        ["db", "registry", "client-trust"].iter().map(|v| format!("{}-kube-{v}", sb.name)).collect();
    let _teardown = KubeDown { manifest: manifest.clone(), claims: claims.clone() };

    let play = run(Command::new("podman").args(["kube", "play", manifest.to_str().unwrap()]), None);
    play.assert_ok("podman kube play");
    wait_ready(&sb);
    // Not a tmpfs on podman 4.3, which ignores `medium: Memory`: each container empties its own
    // emptyDir before it starts, so a crash still leaves nothing behind.
    for service in SERVICES {
        let r = sb.engine_cli(&[
            "inspect",
            "--format",
            "{{range .Mounts}}{{.Destination}}={{.Name}} {{end}}",
            &sb.container(service),
        ]);
        assert!(r.stdout.contains(&format!("/run={}-kube-run-{service}", sb.name)), "{service}: {}", r.stdout);
    }
    a_killed_client_comes_back_by_itself(&sb);
    let pod = sb.engine_cli(&["inspect", "--format", "{{.Pod}}", &sb.container("client")]);
    assert_ne!(pod.stdout.trim(), "", "the client must run in the exported pod, not as up's container");
    plays_the_guide(&sb);
    registry_checks_tls_and_password(&sb, up);

    let down = run(Command::new("podman").args(["kube", "down", manifest.to_str().unwrap()]), None);
    down.assert_ok("podman kube down");
    let mut rm = vec!["volume", "rm"];
    rm.extend(claims.iter().map(String::as_str));
    sb.engine_cli(&rm).assert_ok("removing the claims' volumes");
    let pods = sb.engine_cli(&["pod", "ls", "--quiet", "--filter", &format!("name={}", sb.name)]);
    assert_eq!(pods.stdout.trim(), "", "pod left");
    assert_eq!(sb.labelled("container"), Vec::<String>::new());
    let vols = sb.engine_cli(&["volume", "ls", "--quiet", "--filter", &format!("name={}-kube-", sb.name)]);
    assert_eq!(vols.stdout.trim(), "", "claim volumes left");
    assert_only_ups_volumes(&sb);
}

/// `up`, `export`, check what was written, `down`: the exported stack then stands alone.
fn export(sb: &Sandbox, format: &str, out: &Path, up: &[&str]) -> std::path::PathBuf {
    sb.up_with(up).assert_ok("up");
    let r = sb.x(&["export", format, "--out", out.to_str().unwrap()]);
    r.assert_ok("export");
    let manifest = std::path::PathBuf::from(r.stdout.trim());
    secrets_stay_in_owner_only_files(sb, out, &manifest);
    let images = std::fs::read_to_string(out.join("IMAGES.md")).unwrap();
    assert!(images.contains("localhost/trust-sandbox/client:"), "{images}");
    sb.x(&["down"]).assert_ok("down");
    manifest
}

fn secrets_stay_in_owner_only_files(sb: &Sandbox, out: &Path, manifest: &Path) {
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state_dir().join("secrets.json")).unwrap()).unwrap();
    let values: Vec<&str> = secrets.as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    let private_key = std::fs::read_to_string(sb.state_dir().join("pki/notaryserver.key")).unwrap();
    let mut found = Vec::new();
    walk(out, &mut |path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let in_secrets = path.strip_prefix(out).unwrap().starts_with("secrets");
        let holds_secret = values.iter().any(|v| text.contains(v)) || text.contains(private_key.trim());
        if holds_secret {
            assert!(in_secrets, "{} holds a secret outside secrets/", path.display());
            assert_eq!(mode, 0o600, "{} holds a secret", path.display());
            found.push(path.to_path_buf());
        }
        if in_secrets {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    });
    assert!(!found.is_empty(), "the export must carry the sandbox's secrets (as files)");
    let mode = std::fs::metadata(out.join("secrets")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let manifest_mode = std::fs::metadata(manifest).unwrap().permissions().mode() & 0o777;
    assert_eq!(manifest_mode, 0o644, "the manifest is world-readable, so it must hold no secret");
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, f);
        } else {
            f(&path);
        }
    }
}

/// The orchestrator returns before everything answers: wait as `up` would, through `status`.
fn wait_ready(sb: &Sandbox) {
    let mut last = None;
    for _ in 0..90 {
        let r = sb.x(&["status"]);
        if r.ok() {
            return;
        }
        last = Some(r);
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let r = last.unwrap();
    panic!("the exported stack never became ready:\n{}\n{}", r.stdout, r.stderr);
}

const SERVICES: [&str; 5] = ["db", "notarysigner", "notaryserver", "registry", "client"];

/// As under `up`: each container's /run is a tmpfs of its own, so an unclean stop of the exported
/// stack leaves no pid file or socket behind either.
fn runtime_state_on_a_tmpfs(sb: &Sandbox) {
    for service in SERVICES {
        let r = sb.exec(service, "grep ' /run ' /proc/mounts; ls -A /run");
        r.assert_ok(&format!("{service}: /proc/mounts"));
        assert!(r.stdout.starts_with("tmpfs /run tmpfs"), "{service}: /run is no tmpfs:\n{}", r.stdout);
        if service != "db" {
            assert!(!r.stdout.contains("mysqld"), "{service} shares the DB's /run:\n{}", r.stdout);
        }
    }
}

/// The client's daemon killed with SIGKILL: its restart policy brings it back, no stale pid file
/// in the way (issue 23), and the stack answers again.
fn a_killed_client_comes_back_by_itself(sb: &Sandbox) {
    let pid = sb.engine_cli(&["inspect", "--format", "{{.State.Pid}}", &sb.container("client")]);
    run(Command::new("kill").args(["-KILL", pid.stdout.trim()]), None).assert_ok("killing the client's daemon");
    std::thread::sleep(std::time::Duration::from_secs(2));
    wait_ready(sb);
    let log = sb.engine_cli(&["logs", "--tail", "50", &sb.container("client")]);
    assert!(!format!("{}{}", log.stdout, log.stderr).contains("pid file found"), "the client met its stale pid file");
}

fn plays_the_guide(sb: &Sandbox) {
    let r = sb.x(&["scenario", "run", "guide", "--json", "-"]);
    r.assert_ok("the guide against the exported stack");
    let report = r.json();
    assert_eq!(report["summary"]["passed"], 1, "{report}");
    let steps = report["scenarios"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9);
    assert!(steps.iter().all(|s| s["status"] == "passed"), "{report}");
}

/// With `--registry-tls --registry-auth`, the exported registry on its published port: TLS with the
/// sandbox CA, 401 without the password, 200 with it (from the state's docker config).
fn registry_checks_tls_and_password(sb: &Sandbox, up: &[&str]) {
    if up.is_empty() {
        return;
    }
    let ca = sb.state_dir().join("pki/ca.crt");
    let url = format!("https://127.0.0.1:{}/v2/", sb.registry_port);
    let password = std::fs::read_to_string(sb.state_dir().join("config/registry.password")).unwrap();
    let code = |extra: &[&str]| -> String {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"]).arg(&ca).args(extra).arg(&url);
        run(&mut c, None).stdout
    };
    assert_eq!(code(&[]), "401");
    // The password through curl's config on stdin, not its argv.
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-K", "-", "--cacert"]).arg(&ca).arg(&url);
    let with = run(&mut c, Some(&format!("user = \"sandbox:{}\"\n", password.trim())));
    assert_eq!(with.stdout, "200");
    let plain = run(
        Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &url.replace("https", "http")]),
        None,
    );
    assert_ne!(plain.stdout, "200", "the exported registry answered plain HTTP");
}

/// After teardown only `up`'s own volumes (kept by `down`, removed by `destroy`) remain.
fn assert_only_ups_volumes(sb: &Sandbox) {
    let mut left = sb.labelled("volume");
    left.sort();
    let ups: Vec<String> = ["client-trust", "db", "registry"].iter().map(|v| format!("{}-{v}", sb.name)).collect();
    assert_eq!(left, ups);
}

/// Removes the pod and the claims' volumes even when the test fails half-way.
struct KubeDown {
    manifest: std::path::PathBuf,
    claims: Vec<String>,
}

impl Drop for KubeDown {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["kube", "down"]).arg(&self.manifest).output();
        let _ = Command::new("podman").args(["volume", "rm", "--force"]).args(&self.claims).output();
    }
}
