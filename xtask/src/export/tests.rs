//! The export against a real state directory (PKI, configs, secrets) and `up`'s own run specs;
//! no engine is needed because nothing runs.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::engine::{Engine, EngineKind};
use crate::sandbox::state;
use crate::table;

const NAME: &str = "exp";

fn sandbox(tmp: &Path) -> Sandbox {
    sandbox_with(tmp, state::RegistryMode::default())
}

fn sandbox_with(tmp: &Path, mode: state::RegistryMode) -> Sandbox {
    let dir = state::Dir { path: tmp.join(NAME) };
    let st = dir.create(NAME, EngineKind::Docker, (14443, 15000), mode).unwrap();
    let secrets = state::Secrets {
        db_server_password: "db-server-pw-0001".into(),
        db_signer_password: "db-signer-pw-0002".into(),
        signer_alias_passphrase: "alias-passphrase-0003".into(),
        trust_root_passphrase: "root-passphrase-0004".into(),
        trust_repository_passphrase: "repo-passphrase-0005".into(),
        registry_password: "registry-password-0006".into(),
    };
    crate::util::write_private(&dir.path.join("secrets.json"), serde_json::to_string(&secrets).unwrap().as_bytes())
        .unwrap();
    let table = table::load().unwrap();
    lifecycle::prepare_files(&dir, &st, &table).unwrap();
    let engine = Engine::stand_in(EngineKind::Docker);
    Sandbox { name: NAME.into(), dir, state: st, engine, spec: table }
}

fn refs() -> BTreeMap<String, String> {
    ["db", "notary", "registry", "client"]
        .iter()
        .map(|i| (i.to_string(), format!("localhost/trust-sandbox/{i}:0123456789ab")))
        .collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    sb: Sandbox,
    specs: Vec<RunSpec>,
    plan: Plan,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let sb = sandbox(tmp.path());
    let specs = lifecycle::run_specs(&sb, &refs()).unwrap();
    let plan = build(&sb, specs.clone()).unwrap();
    Fixture { _tmp: tmp, sb, specs, plan }
}

fn secret_values(sb: &Sandbox) -> Vec<String> {
    let mut v = sb.secrets().unwrap().values();
    v.push(std::fs::read_to_string(sb.dir.pki().join("notaryserver.key")).unwrap().trim().to_string());
    v
}

fn yaml_docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .filter(|d| d.lines().any(|l| !l.starts_with('#') && !l.trim().is_empty() && l.trim() != "---"))
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap())
        .collect()
}

#[test]
fn plan_is_ups_run_specs_less_only_the_config_hash() {
    let f = fixture();
    assert_eq!(f.plan.parts.len(), f.specs.len());
    for (part, spec) in f.plan.parts.iter().zip(&f.specs) {
        assert_eq!(part.spec.name, spec.name);
        assert_eq!(part.spec.image, spec.image);
        assert_eq!(part.spec.aliases, spec.aliases);
        assert_eq!(part.spec.publish, spec.publish);
        assert_eq!(part.spec.cap_add, spec.cap_add);
        assert_eq!(part.spec.security_opt, spec.security_opt);
        let labels: Vec<_> = spec.labels.iter().filter(|(k, _)| k != LABEL_CONFIG).cloned().collect();
        assert_eq!(part.spec.labels, labels);
        // Every mount of `up` is there: volumes by table name, tmpfs by target, files by target.
        assert_eq!(
            part.volumes.len()
                + part.tmpfs.len()
                + part.files.iter().filter(|f| !f.target.starts_with("/etc/sandbox/export/")).count(),
            spec.mounts.len()
        );
        assert!(part.tmpfs.iter().any(|(t, _)| t == "/run"), "{}: runtime state on a tmpfs", part.service);
        // The command is up's, behind the DB's entry script at most.
        assert!(part.spec.command.ends_with(&spec.command), "{}", part.service);
    }
    let db = &f.plan.parts[0];
    assert_eq!(db.spec.command[..2], ["sh", db_init::ENTRY_TARGET]);
    // What `up` waits for, from the table: the same waves in every export.
    let afters: Vec<Vec<&str>> = f.plan.parts.iter().map(|p| p.after.iter().map(String::as_str).collect()).collect();
    let expected: [&[&str]; 5] = [&[], &["db"], &["db", "notarysigner"], &[], &[]];
    assert_eq!(afters, expected);
    assert_eq!(f.plan.volumes, ["db", "registry", "client-trust"]);
    assert_eq!(f.plan.images.len(), 4);
}

#[test]
fn private_state_files_become_secrets_and_public_ones_files() {
    let f = fixture();
    let by_rel = |rel: &str| f.plan.files.iter().find(|o| o.rel == Path::new(rel)).unwrap_or_else(|| panic!("{rel}"));
    for rel in ["secrets/pki/notaryserver.key", "secrets/config/server.json", "secrets/export/db-bootstrap.sql"] {
        assert!(by_rel(rel).secret, "{rel}");
    }
    for rel in
        ["files/pki/ca.crt", "files/pki/notaryserver.crt", "files/config/registry.yml", "files/export/db-entry.sh"]
    {
        assert!(!by_rel(rel).secret, "{rel}");
    }
    for v in secret_values(&f.sb) {
        for o in f.plan.files.iter().filter(|o| !o.secret) {
            assert!(!String::from_utf8_lossy(&o.bytes).contains(&v), "{} holds a secret", o.rel.display());
        }
    }
    // The signer's passphrase: in exactly one file, a secret one, and out of the spec's env.
    assert_eq!(passphrase_files(&f.plan, &f.sb), 1);
    let signer = f.plan.parts.iter().find(|p| p.service == "notarysigner").unwrap();
    assert!(signer.spec.env.iter().all(|e| !e.secret), "secret env values leave the spec");
}

/// How many files of the plan hold the signer's passphrase; each must be a secret.
fn passphrase_files(plan: &Plan, sb: &Sandbox) -> usize {
    let passphrase = sb.secrets().unwrap().signer_alias_passphrase;
    let holding: Vec<&OutFile> =
        plan.files.iter().filter(|o| String::from_utf8_lossy(&o.bytes).contains(&passphrase)).collect();
    assert!(holding.iter().all(|o| o.secret && o.rel.starts_with(SECRETS_DIR)), "{holding:?}");
    holding.len()
}

#[test]
fn compose_keeps_names_order_readiness_and_no_secret() {
    let f = fixture();
    let text = compose::render(&f.plan).unwrap();
    for v in secret_values(&f.sb) {
        assert!(!text.contains(&v), "the Compose file holds a secret");
    }
    let doc = &yaml_docs(&text)[0];
    let services = doc["services"].as_object().unwrap();
    assert_eq!(services.len(), 5);
    for part in &f.plan.parts {
        let s = &services[&part.service];
        assert_eq!(s["container_name"], format!("{NAME}-{}", part.service));
        assert_eq!(s["pull_policy"], "never");
        assert_eq!(s["restart"], "unless-stopped", "a crashed service comes back by itself");
        assert_eq!(s["networks"]["sandbox"]["aliases"], serde_json::json!(part.spec.aliases));
        assert_eq!(s["healthcheck"]["test"][0], "CMD");
        let tmpfs = s["tmpfs"][0].as_str().unwrap();
        assert!(tmpfs.starts_with("/run:mode=755,size="), "{}: {tmpfs}", part.service);
        for a in &part.after {
            assert_eq!(s["depends_on"][a]["condition"], "service_healthy");
        }
        if part.after.is_empty() {
            assert!(s.get("depends_on").is_none());
        }
    }
    assert_eq!(services["notaryserver"]["ports"], serde_json::json!(["127.0.0.1:14443:4443"]));
    assert_eq!(services["registry"]["ports"], serde_json::json!(["127.0.0.1:15000:5000"]));
    assert_eq!(services["client"]["cap_add"], serde_json::json!(["SYS_ADMIN"]));
    // A target with a colon goes through the mount API (Compose v2 splits `src:dst:ro` at it).
    for v in services["client"]["volumes"].as_array().unwrap() {
        let colon = v["target"].as_str().unwrap().contains(':');
        assert_eq!(v["bind"]["propagation"].as_str() == Some("rprivate"), colon, "{v}");
    }
    assert_eq!(services["client"]["security_opt"], serde_json::json!(["seccomp=unconfined"]));
    // The signer's passphrase comes from a file under secrets/: an env_file, or a mounted secret.
    let signer = &services["notarysigner"];
    let env_files = signer["env_file"].as_array().cloned().unwrap_or_default();
    assert!(env_files.iter().all(|e| e.as_str().unwrap().starts_with("./secrets/")), "{signer}");
    assert!(!env_files.is_empty() || signer["secrets"].as_array().unwrap().len() == 3, "{signer}");
    // Shell code survives Compose's interpolation.
    let db_probe = services["db"]["healthcheck"]["test"][3].as_str().unwrap();
    assert!(db_probe.starts_with("c=$$(command -v mariadb"), "{db_probe}");
    // Every secret the services name is declared, as a file under secrets/.
    let declared = doc["secrets"].as_object().unwrap();
    for s in services.values() {
        for m in s["secrets"].as_array().into_iter().flatten() {
            let file = declared[m["source"].as_str().unwrap()]["file"].as_str().unwrap();
            assert!(file.starts_with("./secrets/"), "{file}");
        }
    }
    assert_eq!(services["notaryserver"]["secrets"].as_array().unwrap().len(), 2, "config with DB password + key");
}

#[test]
fn kube_is_one_pod_named_for_the_sandbox_with_aliases_on_localhost() {
    let mut f = fixture();
    kube::prepare(&mut f.plan).unwrap();
    let out = Path::new("/srv/export");
    let text = kube::render(&f.plan, out).unwrap();
    for v in secret_values(&f.sb) {
        assert!(!text.contains(&v), "the manifests hold a secret");
    }
    let docs = yaml_docs(&text);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PersistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaim", "Pod"]);
    assert_eq!(docs[0]["metadata"]["name"], format!("{NAME}-kube-db"));
    let pod = &docs[3];
    assert_eq!(pod["metadata"]["name"], NAME);
    assert_eq!(pod["metadata"]["annotations"]["container.seccomp.security.alpha.kubernetes.io/client"], "unconfined");
    let hosts = pod["spec"]["hostAliases"][0]["hostnames"].as_array().unwrap();
    for name in ["db", "notarysigner", "notaryserver", "sandboxregistry"] {
        assert!(hosts.contains(&Value::from(name)), "{name}");
    }
    let containers = pod["spec"]["containers"].as_array().unwrap();
    let names: Vec<&str> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "notarysigner", "notaryserver", "registry", "client"]);
    let client = &containers[4];
    assert_eq!(client["securityContext"]["capabilities"]["add"], serde_json::json!(["SYS_ADMIN"]));
    assert_eq!(client["securityContext"]["seccompProfile"]["type"], "Unconfined");
    assert!(client.get("privileged").is_none());
    let server = &containers[2];
    assert_eq!(
        server["ports"][0],
        serde_json::json!({"containerPort": 4443, "hostPort": 14443, "hostIP": "127.0.0.1"})
    );
    // No mount path holds a colon: podman 4.3 would split it.
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    // Each container's /run is a memory-backed emptyDir of its own.
    let mut run_volumes = Vec::new();
    for c in containers {
        let m = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == "/run").unwrap();
        let v = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
        assert_eq!(v["emptyDir"]["medium"], "Memory", "{v}");
        assert!(v["emptyDir"]["sizeLimit"].as_str().unwrap().ends_with("Mi"), "{v}");
        run_volumes.push(m["name"].as_str().unwrap());
    }
    run_volumes.dedup();
    assert_eq!(run_volumes.len(), containers.len(), "shared /run: {run_volumes:?}");
    for c in containers {
        for m in c["volumeMounts"].as_array().unwrap() {
            assert!(!m["mountPath"].as_str().unwrap().contains(':'), "{m}");
        }
    }
    let tls =
        client["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == "/root/.docker/tls").unwrap();
    let tls_vol = volumes.iter().find(|v| v["name"] == tls["name"]).unwrap();
    assert_eq!(tls_vol["hostPath"]["type"], "Directory");
    let dir = tls_vol["hostPath"]["path"].as_str().unwrap().strip_prefix("/srv/export/").unwrap();
    assert!(f.plan.files.iter().any(|o| o.rel == Path::new(dir).join("notaryserver:4443/ca.crt")), "{dir}");
    // Each waits for the previous service's port; the signer's passphrase comes from a sourced
    // 0600 file, not the manifest.
    assert_eq!(containers[0]["args"][0], "sh", "the DB waits for nothing");
    let signer = &containers[1];
    assert!(signer["args"][2].as_str().unwrap().contains("/dev/tcp/127.0.0.1/3306"), "{signer}");
    // Then each empties its runtime dir (an emptyDir outlives a container's restart in the pod).
    assert_eq!(signer["args"][4], "sh");
    let empty = signer["args"][6].as_str().unwrap();
    assert!(empty.starts_with("for f in '/run'/* ") && empty.contains("rm -rf --one-file-system"), "{signer}");
    assert!(signer["args"][10].as_str().unwrap().starts_with(". /run/trust-sandbox/"), "{signer}");
    let names: Vec<&str> =
        pod["spec"]["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"exp-kube-run-client"), "the runtime emptyDirs are named for the sandbox: {names:?}");
    // The server waits for the DB's and the signer's ports; the client, which waits for nothing,
    // starts at once.
    let server = containers[2]["args"][2].as_str().unwrap();
    assert!(server.contains("/dev/tcp/127.0.0.1/3306") && server.contains("/dev/tcp/127.0.0.1/7899"), "{server}");
    assert!(!containers[4]["args"][2].as_str().unwrap_or_default().contains("/dev/tcp/"));
    assert_eq!(passphrase_files(&f.plan, &f.sb), 1);
    for v in volumes {
        if let Some(p) = v["hostPath"]["path"].as_str() {
            assert!(p.starts_with("/srv/export/files/") || p.starts_with("/srv/export/secrets/"), "{p}");
        }
    }
}

#[test]
fn env_script_quotes_every_value() {
    let s = kube::env_script(&[("A".into(), "it's $HOME".into())]);
    assert_eq!(s, "export A='it'\\''s $HOME'\n");
}

#[test]
fn write_refuses_a_foreign_directory_and_keeps_secrets_private() {
    let f = fixture();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("notes.txt"), "mine").unwrap();
    let err = write(out.path(), &f.plan, &[]).unwrap_err().to_string();
    assert!(err.contains("pick an empty --out directory"), "{err}");

    let out = tempfile::tempdir().unwrap();
    write(out.path(), &f.plan, &[("compose.yaml", "services: {}\n".into())]).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out.path().join("secrets")), 0o700);
    assert_eq!(mode(&out.path().join("secrets/pki/notaryserver.key")), 0o600);
    assert_eq!(mode(&out.path().join("files/pki/ca.crt")), 0o644);
    // A second export of the same sandbox may overwrite the first.
    write(out.path(), &f.plan, &[("compose.yaml", "services: {}\n".into())]).unwrap();
    // Not with the other format: the directory would hold two stacks' manifests.
    let err = write(out.path(), &f.plan, &[("sandbox.yaml", "kind: Pod\n".into())]).unwrap_err().to_string();
    assert!(err.contains("holds an earlier `export compose` (compose.yaml)"), "{err}");
    assert!(!out.path().join("sandbox.yaml").exists(), "the kube manifest was written beside the compose one");
}

#[test]
fn host_daemon_mode_is_not_exported() {
    let mut f = fixture();
    f.sb.state.client = ClientMode::HostDaemon;
    let err = plan(&xshell::Shell::new().unwrap(), &f.sb).unwrap_err().to_string();
    assert!(err.contains("host-daemon"), "{err}");
}

/// A sandbox made with `--registry-tls --registry-auth` exports as it runs: the registry's TLS and
/// htpasswd files, the client's certs.d CA and its login (the password only in a secret file),
/// and probes that speak TLS.
#[test]
fn a_tls_registry_with_auth_exports_its_files_login_and_probes() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = sandbox_with(tmp.path(), state::RegistryMode { tls: true, auth: true });
    let plan = build(&sb, lifecycle::run_specs(&sb, &refs()).unwrap()).unwrap();
    let part = |s: &str| plan.parts.iter().find(|p| p.service == s).unwrap();
    let targets = |s: &str| part(s).files.iter().map(|f| f.target.clone()).collect::<Vec<_>>();
    for t in ["/etc/sandbox/registry.crt", "/etc/sandbox/registry.key", "/etc/sandbox/registry.htpasswd"] {
        assert!(targets("registry").contains(&t.to_string()), "{t}");
    }
    assert!(targets("client").contains(&"/etc/docker/certs.d/sandboxregistry:5000/ca.crt".to_string()));
    let password = sb.secrets().unwrap().registry_password;
    for o in plan.files.iter().filter(|o| String::from_utf8_lossy(&o.bytes).contains(&password)) {
        assert!(o.secret, "{} holds the registry password", o.rel.display());
    }
    let htpasswd = plan.files.iter().find(|o| o.rel.ends_with("registry.htpasswd")).unwrap();
    assert!(htpasswd.secret && String::from_utf8_lossy(&htpasswd.bytes).starts_with("sandbox:$2"));
    let registry_probe = part("registry").probe.join(" ");
    assert!(registry_probe.contains("openssl s_client") && registry_probe.contains("(200|401)"), "{registry_probe}");
    let client = part("client");
    assert!(client.spec.command.join(" ").contains("sh /etc/sandbox/registry-login.sh &"), "{:?}", client.spec.command);
    assert!(client.probe.join(" ").contains("/run/registry-login.done"));
    let compose = compose::render(&plan).unwrap();
    assert!(!compose.contains(&password), "the Compose file holds the password");
    let mut kube_plan = plan.clone();
    kube::prepare(&mut kube_plan).unwrap();
    assert!(!kube::render(&kube_plan, Path::new("/out")).unwrap().contains(&password));
}
