//! `migrate --from` against a second sandbox that plays "a Notary you own": its registry serves
//! TLS with its own CA and requires basic auth (`up --registry-tls --registry-auth`), and the
//! migrating sandbox reaches it only through its published ports on 127.0.0.1 (its signers run on
//! the host's network; it never joins the remote's network). The remote signs repositories with
//! DCT (a delegation, a moved tag, a deleted manifest, one without trust data); then plan (and
//! proof that nothing was written to either server), the safety refusals, archive (checked by
//! `--verify-archive`, a flipped byte refused, and the notary CLI offline), an apply interrupted
//! and completed by a rerun, a last apply that signs nothing, and verification as consumers run
//! it: cosign and notation, and a pull-time policy (skopeo through the consumer kit `--apply`
//! writes), which accepts each re-signed digest and refuses what nobody re-signed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use trust_sandbox_tests::{require_engine, run, Run, Sandbox};

#[test]
fn docker_migrate_from_a_notary_you_own() {
    migrate_from("docker");
}

#[test]
fn podman_migrate_from_a_notary_you_own() {
    migrate_from("podman");
}

/// Run in the remote's client through `shell`. Prints `<name> <digest>` lines.
const SIGN_IN_REMOTE: &str = r#"set -e
R=sandboxregistry:5000
mk() { d=$(mktemp -d); echo "$1 $(date +%s%N) $$" > "$d/nonce"; tar -C "$d" -c . | docker import - "$2" >/dev/null; rm -rf "$d"; }
digest() { sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p'; }
mk web $R/app/web:v1
echo "web $(docker push $R/app/web:v1 2>&1 | digest)"
mk moved1 $R/app/moved:latest
echo "moved-signed $(docker push $R/app/moved:latest 2>&1 | digest)"
mk moved2 $R/app/moved:latest
echo "moved-now $(DOCKER_CONTENT_TRUST=0 docker push $R/app/moved:latest 2>&1 | digest)"
mk gone $R/app/gone:latest
g=$(docker push $R/app/gone:latest 2>&1 | digest)
echo "gone $g"
curl -fsS --netrc-optional --cacert /etc/sandbox/ca.crt -X DELETE "https://$R/v2/app/gone/manifests/$g"
# A delegation: the owner signs team/api:owner and adds alice, who signs team/api:latest.
mk owner $R/team/api:owner
echo "owner $(docker push $R/team/api:owner 2>&1 | digest)"
A=/tmp/alice; rm -rf $A; mkdir -p $A/cfg; cp -R ~/.docker/tls ~/.docker/config.json $A/cfg/
(cd $A && DOCKER_CONFIG=$A/cfg docker trust key generate alice >/dev/null)
docker trust signer add --key $A/alice.pub alice $R/team/api >/dev/null
mk alice $R/team/api:latest
echo "alice $(DOCKER_CONFIG=$A/cfg docker push $R/team/api:latest 2>&1 | digest)"
# No trust data at all.
mk plain $R/plain/none:1
echo "plain $(DOCKER_CONTENT_TRUST=0 docker push $R/plain/none:1 2>&1 | digest)"
"#;

const REPOS: &[&str] = &["app/web", "app/moved", "app/gone", "team/api", "plain/none"];

/// What the remote's servers hold: the trust DB dumped, and every file of the registry's storage.
fn fingerprint(remote: &Sandbox) -> (String, String) {
    let db = remote.exec(
        "db",
        "$(command -v mariadb-dump || command -v mysqldump) -S /run/mysqld/mysqld.sock -uroot --skip-dump-date --skip-comments notaryserver | sha256sum",
    );
    db.assert_ok("dumping the remote's trust DB");
    let reg = remote.exec("registry", "cd /var/lib/registry && find . -type f | sort | xargs sha256sum | sha256sum");
    reg.assert_ok("hashing the remote's registry storage");
    (db.stdout.trim().to_string(), reg.stdout.trim().to_string())
}

fn tag<'a>(plan: &'a Value, repo: &str, tag: &str) -> &'a Value {
    plan["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == repo)
        .and_then(|r| r["tags"].as_array().unwrap().iter().find(|t| t["tag"] == tag))
        .unwrap_or_else(|| panic!("no {repo}:{tag} in the plan:\n{plan:#}"))
}

fn repo<'a>(plan: &'a Value, repo: &str) -> &'a Value {
    plan["repositories"].as_array().unwrap().iter().find(|r| r["repository"] == repo).unwrap()
}

fn migrate_from(engine: &str) {
    require_engine(engine);
    let remote = Sandbox::new(engine, "remote");
    remote.up_with(&["--registry-tls", "--registry-auth"]).assert_ok("up the remote");
    // The scenarios pass on such a sandbox (all 16 measured on docker); these two here.
    let played = remote.x(&["scenario", "run", "guide", "delegation"]);
    played.assert_ok("the guide and the delegation on a registry with TLS and auth");
    assert!(played.stderr.contains("2 passed, 0 failed"), "{}", played.stderr);
    let local = Sandbox::new(engine, "local");
    local.up().assert_ok("up the migrating sandbox");
    let signed = remote.x_stdin(&["shell"], SIGN_IN_REMOTE);
    signed.assert_ok("signing with DCT in the remote");
    let d: BTreeMap<&str, &str> = signed.stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    for k in ["web", "moved-signed", "moved-now", "gone", "owner", "alice", "plain"] {
        assert!(d.get(k).is_some_and(|v| v.starts_with("sha256:")), "no digest for {k}:\n{}", signed.stdout);
    }

    let rstate = remote.state_dir();
    let ca = rstate.join("pki/ca.crt").display().to_string();
    let config = rstate.join("docker/config.json").display().to_string();
    let password = std::fs::read_to_string(rstate.join("config/registry.password")).unwrap();
    let notary = format!("https://127.0.0.1:{}", remote.server_port);
    let registry = format!("https://127.0.0.1:{}", remote.registry_port);
    // `migrate --from` as a user runs it against the remote; `bare` leaves the CAs and the
    // credentials to the caller.
    let bare = |extra: &[&str]| -> Vec<String> {
        ["migrate", "--from", &notary, "--registry", &registry, "--gun-prefix", "sandboxregistry:5000"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let from = |extra: &[&str]| -> Vec<String> {
        let mut a = bare(&["--notary-ca", &ca, "--registry-ca", &ca, "--docker-config", &config]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let x = |args: Vec<String>, env: &[(&str, &str)]| -> Run {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = local.command(&refs);
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c, None)
    };
    let mut outputs: Vec<Run> = Vec::new();
    let before = fingerprint(&remote);

    // Plan: read-only, JSON.
    let started = Instant::now();
    let mut args = from(&["--json", "-"]);
    args.extend(REPOS.iter().map(|r| r.to_string()));
    let planned = x(args, &[]);
    let plan_secs = started.elapsed().as_secs_f64();
    planned.assert_ok("plan");
    let plan = planned.json()["plan"].clone();
    let web = tag(&plan, "app/web", "v1");
    assert_eq!(web["signed_digest"], d["web"]);
    assert_eq!(web["registry_digest"], d["web"]);
    assert_eq!(web["action"], "sign");
    assert_eq!(web["roles"], serde_json::json!(["targets"]));
    assert_eq!(web["reference"], format!("127.0.0.1:{}/app/web@{}", remote.registry_port, d["web"]));
    let moved = tag(&plan, "app/moved", "latest");
    assert_eq!(
        (moved["signed_digest"].as_str(), moved["registry_digest"].as_str()),
        (Some(d["moved-signed"]), Some(d["moved-now"]))
    );
    assert_eq!(moved["action"], "sign", "the DCT-signed digest is signed, not the moved tag's");
    assert!(moved["note"].as_str().unwrap().contains("tag moved"), "{moved}");
    let gone = tag(&plan, "app/gone", "latest");
    assert_eq!((gone["signed_digest_served"].as_bool(), gone["action"].as_str()), (Some(false), Some("not-served")));
    let alice = tag(&plan, "team/api", "latest");
    assert_eq!(alice["signed_digest"], d["alice"]);
    // docker signs alice's push into targets/releases and her own role targets/alice (measured).
    let alice_roles: Vec<&str> = alice["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(alice_roles.contains(&"targets/releases"), "{alice}");
    assert!(alice["signers"].as_array().unwrap().contains(&"alice".into()), "{alice}");
    assert_eq!(alice["docker_pull"], true);
    assert_eq!(tag(&plan, "team/api", "owner")["signed_digest"], d["owner"]);
    assert_eq!(repo(&plan, "plain/none")["status"], "no-trust-data", "reported, not fatal");
    let api = repo(&plan, "team/api");
    assert_eq!(api["status"], "valid");
    let roles: Vec<&str> = api["roles"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["root", "targets", "targets/alice", "targets/releases", "snapshot", "timestamp"]);
    assert!(api["roles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["version"].as_u64().unwrap() >= 1 && r["expires"].is_string()));
    assert_eq!(api["root_key_ids"].as_array().unwrap().len(), 1);
    assert_eq!(plan["summary"]["signed_tags"], 5, "{:#}", plan["summary"]);
    assert_eq!(plan["summary"]["to_sign"], 4, "{:#}", plan["summary"]);
    assert!(planned.stderr.contains("none given: --apply needs"), "{}", planned.stderr);
    // The catalog finds the same repositories.
    let catalog = x(from(&["--catalog"]), &[]);
    catalog.assert_ok("plan from the catalog");
    for r in REPOS {
        assert!(catalog.stdout.contains(r), "{r} not in the catalog's plan:\n{}", catalog.stdout);
    }
    outputs.extend([planned, catalog]);

    // Safety: a wrong CA is a TLS error (no fallback); a wrong password names the server.
    let wrong_ca = local.state_dir().join("pki/ca.crt").display().to_string();
    let r = x(bare(&["--notary-ca", &wrong_ca, "--registry-ca", &ca, "--docker-config", &config, "app/web"]), &[]);
    r.assert_fails_with("a wrong Notary CA", "TLS to the Notary server");
    assert!(r.stderr.contains("nothing falls back to an unverified connection"), "{}", r.stderr);
    let r = x(
        bare(&["--notary-ca", &ca, "--registry-ca", &ca, "app/web"]),
        &[("TRUST_SANDBOX_REGISTRY_USERNAME", "sandbox"), ("TRUST_SANDBOX_REGISTRY_PASSWORD", "not-the-password")],
    );
    r.assert_fails_with(
        "a wrong password",
        &format!("the registry {registry} refused the credentials of user `sandbox`"),
    );
    let r = x(
        bare(&["--notary-ca", &ca, "--registry-ca", &ca, "--docker-config", "/nonexistent/config.json", "app/web"]),
        &[],
    );
    r.assert_fails_with("a missing docker config", "no such file");

    // An expired timestamp (judged 15 days ahead): the plan says so, --apply refuses.
    let late = x(from(&["--at", "+15d", "--json", "-", "app/web"]), &[]);
    late.assert_ok("plan at +15 days");
    let late_plan = late.json()["plan"].clone();
    assert_eq!(repo(&late_plan, "app/web")["status"], "expired");
    assert!(repo(&late_plan, "app/web")["problem"].as_str().unwrap().contains("timestamp expired at"), "{late_plan:#}");
    assert!(late.stderr.contains("EXPIRED"), "{}", late.stderr);
    let lstate = local.state_dir().join("signers");
    let keys = ["--cosign-key", &lstate.join("cosign.key").display().to_string(), "--notation-cert"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            lstate.join("notation.crt").display().to_string(),
            "--notation-key-file".into(),
            lstate.join("notation.key").display().to_string(),
        ])
        .collect::<Vec<String>>();
    // The migrating sandbox's own signing keys play the user's: made by its `migrate`.
    local.x(&["migrate"]).assert_ok("local migrate (makes the keys)");
    let cosign_password: Value =
        serde_json::from_str(&std::fs::read_to_string(lstate.join("secrets.json")).unwrap()).unwrap();
    let cosign_password = cosign_password["cosign_password"].as_str().unwrap().to_string();
    let apply_args = |extra: &[&str]| -> Vec<String> {
        let mut a = from(&["--apply"]);
        a.extend(keys.iter().cloned());
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(REPOS.iter().map(|r| r.to_string()));
        a
    };
    let env = [("COSIGN_PASSWORD", cosign_password.as_str())];
    let refused = x(apply_args(&["--at", "+15d"]), &env);
    refused.assert_fails_with("apply with expired trust data", "refusing to sign");
    assert!(refused.stderr.contains("--allow-expired-trust-data"), "{}", refused.stderr);
    assert_eq!(fingerprint(&remote), before, "plans and refusals wrote nothing to either server");

    // Archive, checked offline; a flipped byte is refused.
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let a = x(from(&["--archive", &archive.display().to_string(), "app/web", "team/api"]), &[]);
    a.assert_ok("archive");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(archive.join("MANIFEST.json")).unwrap()).unwrap();
    let files: Vec<&str> = manifest["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["files"].as_array().unwrap())
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"tuf/sandboxregistry:5000/team/api/metadata/targets/releases.json"), "{files:?}");
    assert_eq!(files.len(), 10, "four roles of app/web, six of team/api: {files:?}");
    let verified = local.x(&["migrate", "--verify-archive", &archive.display().to_string()]);
    verified.assert_ok("verify-archive");
    assert!(
        verified.stdout.contains("latest sha256:") && verified.stdout.contains("(targets/releases)"),
        "{}",
        verified.stdout
    );
    let sums = run(Command::new("sha256sum").args(["-c", "SHA256SUMS"]).current_dir(&archive), None);
    sums.assert_ok("sha256sum -c SHA256SUMS");
    for (file, needle) in
        [("targets/releases.json", "does not match the manifest"), ("root.json", "does not match the manifest")]
    {
        let copy = tmp.path().join(format!("flipped-{}", file.replace('/', "-")));
        copy_dir(&archive, &copy);
        let path = copy.join("tuf/sandboxregistry:5000/team/api/metadata").join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let r = local.x(&["migrate", "--verify-archive", &copy.display().to_string()]);
        assert!(!r.ok(), "a flipped byte in {file} passed:\n{}", r.stdout);
        assert!(r.stdout.contains(needle), "{file}: {}", r.stdout);
    }
    // The same flip with the manifest and SHA256SUMS rewritten to match: the metadata's own
    // hashes and signatures still refuse it.
    let forged = tmp.path().join("forged");
    copy_dir(&archive, &forged);
    let rel = "tuf/sandboxregistry:5000/team/api/metadata/targets.json";
    let mut bytes = std::fs::read(forged.join(rel)).unwrap();
    let at = String::from_utf8_lossy(&bytes).find("\"sig\"").unwrap() + 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(forged.join(rel), &bytes).unwrap();
    let sha = run(Command::new("sha256sum").arg(forged.join(rel)), None).stdout.split(' ').next().unwrap().to_string();
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(forged.join("MANIFEST.json")).unwrap()).unwrap();
    for r in m["repositories"].as_array_mut().unwrap() {
        for f in r["files"].as_array_mut().unwrap() {
            if f["path"] == rel {
                f["sha256"] = sha.clone().into();
            }
        }
    }
    std::fs::write(forged.join("MANIFEST.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let r = local.x(&["migrate", "--verify-archive", &forged.display().to_string()]);
    assert!(!r.ok() && r.stdout.contains("checksum for targets.json did not match"), "{}", r.stdout);
    // The notary CLI reads the archive as its cache with the server unreachable (measured: while
    // the timestamp is fresh and every delegation validates).
    let client = local.container("client");
    local
        .engine_cli(&["cp", &archive.display().to_string(), &format!("{client}:/tmp/archive")])
        .assert_ok("copying the archive");
    let listed =
        local.exec("client", "notary -d /tmp/archive -s https://127.0.0.1:9 list sandboxregistry:5000/team/api");
    listed.assert_ok("notary list offline");
    assert!(listed.stdout.contains(&d["alice"][7..]) && listed.stdout.contains(&d["owner"][7..]), "{}", listed.stdout);
    outputs.extend([late, refused, a, verified]);

    // Apply, interrupted after its first digest, then completed by a rerun, then idempotent.
    let evidence = tmp.path().join("evidence.json");
    let ev = evidence.display().to_string();
    let kit = tmp.path().join("kit");
    let kit_arg = kit.display().to_string();
    let args = apply_args(&["--evidence", &ev, "--kit", &kit_arg]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = local.command(&refs);
    first
        .env("COSIGN_PASSWORD", &cosign_password)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let started = Instant::now();
    let mut child = first.spawn().unwrap();
    let records = |p: &Path| -> usize {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|v| v["records"].as_array().map_or(0, Vec::len))
            .unwrap_or(0)
    };
    while records(&evidence) < 1 {
        assert!(started.elapsed() < Duration::from_secs(300), "the first apply wrote no evidence");
        assert!(child.try_wait().unwrap().is_none(), "the first apply ended before it was interrupted");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done_first = records(&evidence);
    assert!(done_first < 4, "interrupted too late ({done_first} digests done)");
    let started = Instant::now();
    let second = x(apply_args(&["--evidence", &ev, "--kit", &kit_arg, "--json", "-"]), &env);
    let apply_secs = started.elapsed().as_secs_f64();
    second.assert_ok("the apply that completes the interrupted one");
    let ev2 = second.json()["evidence"].clone();
    let records2 = ev2["records"].as_array().unwrap();
    assert_eq!(records2.len(), 4, "web, moved, owner, alice: {ev2:#}");
    assert!(ev2["signed"].as_u64().unwrap() > 0 && ev2["failed"] == 0, "{ev2:#}");
    assert!(ev2["skipped"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("app/gone")));
    for r in records2 {
        let kinds: Vec<&str> = r["results"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["cosign-bundle", "cosign-legacy", "notation"], "{r}");
        for t in r["results"].as_array().unwrap() {
            assert!(t["outcome"] == "signed" || t["outcome"] == "already-signed", "{t}");
        }
        for dct in r["dct"].as_array().unwrap() {
            assert_eq!(dct["gun"], format!("sandboxregistry:5000/{}", r["repository"].as_str().unwrap()));
            // The metadata hash it names is the one the plan read.
            let role = repo(&plan, r["repository"].as_str().unwrap())["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["role"] == dct["role"])
                .unwrap()
                .clone();
            assert_eq!(dct["metadata_sha256"], role["sha256"], "{r}");
            assert_eq!(dct["metadata_version"], role["version"]);
        }
    }
    let alice_rec = records2.iter().find(|r| r["digest"] == d["alice"]).unwrap();
    assert!(alice_rec["dct"].as_array().unwrap().iter().any(|s| s["role"] == "targets/releases"), "{alice_rec}");
    let started = Instant::now();
    let third = x(apply_args(&["--evidence", &ev, "--kit", &kit_arg, "--json", "-"]), &env);
    let noop_secs = started.elapsed().as_secs_f64();
    third.assert_ok("a second complete apply");
    let ev3 = third.json()["evidence"].clone();
    assert_eq!(ev3["signed"], 0, "nothing signed twice: {ev3:#}");
    assert_eq!(ev3["already_signed"], 12);
    assert!(third.stderr.contains("nothing signed twice"), "{}", third.stderr);
    // Every signature the evidence names is in the registry, for the digest it names.
    for r in ev3["records"].as_array().unwrap() {
        let after: Vec<&str> =
            r["artifacts_after"].as_array().unwrap().iter().map(|a| a["digest"].as_str().unwrap()).collect();
        for t in r["results"].as_array().unwrap() {
            let arts = t["artifacts"].as_array().unwrap();
            assert!(!arts.is_empty(), "no artifact recorded for {} {}", r["reference"], t["kind"]);
            for a in arts {
                if t["kind"] != "cosign-legacy" {
                    assert!(after.contains(&a.as_str().unwrap()), "{a} not in the registry for {}", r["reference"]);
                }
            }
        }
    }
    // The enforcement point read every re-signed digest: skopeo pulled each through the kit's
    // policy (the consumer container, on the host's network), after signing and on the rerun.
    for ev in [&ev2, &ev3] {
        for r in ev["records"].as_array().unwrap() {
            assert_eq!(r["policy_pull"]["accepted"], true, "the policy refused {}: {r:#}", r["reference"]);
        }
    }
    assert!(third.stderr.contains("POLICY PULL") && !third.stderr.contains("REFUSED"), "{}", third.stderr);
    let (db_after, _) = fingerprint(&remote);
    assert_eq!(db_after, before.0, "apply wrote nothing to the Notary server");
    eprintln!(
        "measured on {engine}: plan {plan_secs:.1} s for 5 signed tags in 5 repositories ({:.2} s/tag); the apply completing \
         an interrupted one {apply_secs:.1} s for 4 digests ({done_first} already done); an apply that signs nothing {noop_secs:.1} s \
         ({:.1} s/digest)",
        plan_secs / 5.0,
        noop_secs / 4.0
    );
    outputs.extend([second, third]);

    // A consumer verifies with cosign (both formats) and notation, from the host's network.
    let image = current_image(&local, "signers");
    let docker_config = rstate.join("docker").display().to_string();
    let signers = lstate.display().to_string();
    let consumer = |script: &str| -> Run {
        on_host(
            &local,
            &image,
            &[(&ca, "/remote-ca.crt"), (&docker_config, "/dc"), (&signers, "/signers")],
            &["SSL_CERT_FILE=/remote-ca.crt", "DOCKER_CONFIG=/dc", "XDG_CONFIG_HOME=/signers/config"],
            &["sh", "-c", script],
        )
    };
    let reg = format!("127.0.0.1:{}", remote.registry_port);
    for key in ["web", "moved-signed", "owner", "alice"] {
        let repo = match key {
            "web" => "app/web",
            "moved-signed" => "app/moved",
            _ => "team/api",
        };
        let r = format!("{reg}/{repo}@{}", d[key]);
        let v = consumer(&format!(
            "cosign verify --key /signers/cosign.pub --insecure-ignore-tlog=true {r} >/dev/null && \
             cosign verify --key /signers/cosign.pub --insecure-ignore-tlog=true --new-bundle-format=false {r} >/dev/null && \
             notation verify {r}"
        ));
        v.assert_ok(&format!("consumer verification of {r}"));
    }
    for (repo, key) in [("app/moved", "moved-now"), ("app/gone", "gone")] {
        let v = consumer(&format!(
            "cosign verify --key /signers/cosign.pub --insecure-ignore-tlog=true {reg}/{repo}@{}",
            d[key]
        ));
        assert!(!v.ok(), "{repo}@{} verified, but DCT never signed it / it is gone", d[key]);
    }

    // The same kit, used as a podman/CRI-O host would: skopeo from the consumer image pulls the
    // re-signed digests and refuses what was not re-signed (the moved tag's new digest, a
    // repository DCT never signed), fail closed.
    let policy: Value =
        serde_json::from_str(&std::fs::read_to_string(kit.join("containers/policy.json")).unwrap()).unwrap();
    assert_eq!(policy["default"], serde_json::json!([{"type": "reject"}]), "{policy:#}");
    let consumer_image = current_image(&local, "consumer");
    let policy_pull = |reference: &str| -> Run {
        let from = format!("docker://{reference}");
        on_host(
            &local,
            &consumer_image,
            &[(&kit_arg, "/kit"), (&ca, "/certs/ca.crt"), (&docker_config, "/dc")],
            &[],
            &["skopeo", "--policy", "/kit/containers/policy.json", "--registries.d", "/kit/containers/registries.d"]
                .into_iter()
                .chain(["copy", "--src-cert-dir", "/certs", "--src-authfile", "/dc/config.json", &from, "dir:/tmp/p"])
                .collect::<Vec<_>>(),
        )
    };
    for (repo, key) in [("app/web", "web"), ("team/api", "alice")] {
        policy_pull(&format!("{reg}/{repo}@{}", d[key])).assert_ok(&format!("a policy pull of {repo}@{}", d[key]));
    }
    for reference in [
        format!("{reg}/app/moved:latest"),
        format!("{reg}/app/moved@{}", d["moved-now"]),
        format!("{reg}/plain/none:1"),
    ] {
        let r = policy_pull(&reference);
        assert!(!r.ok(), "the policy accepted {reference}, which nobody re-signed:\n{}", r.stdout);
        assert!(r.stderr.contains("signature"), "{reference} refused for another reason: {}", r.stderr);
    }

    // The migrating side never joined the remote's network; the password was never printed.
    let members = remote.engine_cli(&["ps", "--filter", &format!("network={}", remote.name), "--format", "{{.Names}}"]);
    members.assert_ok("inspecting the remote's network");
    assert!(members.stdout.contains(&remote.container("registry")), "{}", members.stdout);
    assert!(!members.stdout.contains(&local.name), "{}", members.stdout);
    outputs.push(signed);
    for o in &outputs {
        assert!(
            !o.stdout.contains(password.trim()) && !o.stderr.contains(password.trim()),
            "the registry password was printed"
        );
    }
    assert!(!std::fs::read_to_string(&evidence).unwrap().contains(password.trim()));
}

/// `argv` in a throwaway container of `image` on the host's network (where the remote's
/// published ports are), with read-only mounts and environment.
fn on_host(sb: &Sandbox, image: &str, mounts: &[(&str, &str)], env: &[&str], argv: &[&str]) -> Run {
    let mut a: Vec<String> = ["run", "--rm", "--network", "host"].iter().map(|s| s.to_string()).collect();
    for (from, to) in mounts {
        a.extend(["-v".to_string(), format!("{from}:{to}:ro")]);
    }
    for e in env {
        a.extend(["-e".to_string(), e.to_string()]);
    }
    a.push(image.to_string());
    a.extend(argv.iter().map(|s| s.to_string()));
    sb.engine_cli(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

fn copy_dir(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to), None).assert_ok("copying the archive");
}

/// The image (`signers`, `consumer`) the lock names now.
fn current_image(sb: &Sandbox, name: &str) -> String {
    let list = sb.x(&["images", "list", "--json"]);
    list.assert_ok("images list");
    list.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == name && i["current"] == true)
        .and_then(|i| i["reference"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("no current {name} image"))
}
