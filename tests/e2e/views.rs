//! The trust data made visible, looked at as a person would: `trust show` on repositories after
//! rotation, delegation, revocation and with a stale second client; and the `--html` pages of
//! `play`, `scenario run`, `compare` and `migrate` opened in headless Chromium (Debian's package,
//! which `cargo xtask test --yes` installs), each saved as a screenshot and checked in the
//! rendered DOM for every step, cell, record and role; a run ended by SIGTERM still writes its
//! page, marked interrupted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trust_sandbox_tests::{require_engine, run, scenario_file, workspace_root, Run, Sandbox};

#[test]
fn docker_trust_views() {
    trust_views("docker");
}

#[test]
fn podman_trust_views() {
    trust_views("podman");
}

fn trust_views(engine: &str) {
    require_engine(engine);
    let browser = Chromium::new();
    let sb = Sandbox::new(engine, "views");
    sb.up().assert_ok("up");
    let out = tempfile::tempdir().unwrap();
    let shots = workspace_root().join("target/e2e-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    bad_paths_are_refused_before_anything_runs(&sb, out.path());

    // The guide through `play`, then the scenarios that rotate, delegate, revoke and roll back.
    let play = out.path().join("play.html");
    sb.x(&["play", "--html", play.to_str().unwrap()]).assert_ok("play --html");
    let page = out.path().join("run.html");
    let json = out.path().join("run.json");
    let names = ["key-rotation", "delegation", "revoke", "rollback"];
    let mut args = vec!["scenario", "run"];
    args.extend(names);
    args.extend(["--html", page.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    let r = sb.x(&args);
    r.assert_ok("scenario run --html");
    assert!(r.stderr.contains("Wrote") && r.stderr.contains("run.html"), "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for (file, shot) in [(&play, "play"), (&page, "scenario-run")] {
        let report = if shot == "play" { None } else { Some(&report) };
        run_page_is_complete(&browser, file, report, &shots.join(format!("{engine}-{shot}.png")));
    }
    rotation_shows_the_cross_signed_root(&report);

    shows_rotation_replacement_and_holders(&sb);
    shows_delegations_and_revocation(&sb);
    a_stale_cache_is_visibly_older(&sb);

    // compare (two rows keep it short) and migrate.
    let cmp = out.path().join("compare.html");
    let r = sb.x(&[
        "compare",
        "--row",
        "tag-moved",
        "--row",
        "tag-rollback",
        "--html",
        cmp.to_str().unwrap(),
        "--json",
        "-",
    ]);
    r.assert_ok("compare --html");
    let matrix = r.json();
    let dom = browser.look(&cmp, &shots.join(format!("{engine}-compare.png")));
    // Every column the matrix has, every row asked for, and each cell with its outcome, the
    // stage that refused and its evidence line.
    for col in matrix["columns"].as_array().unwrap() {
        assert!(dom.contains(&format!("data-column=\"{}\"", col["id"].as_str().unwrap())), "{col}");
    }
    let rows = matrix["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{matrix}");
    for row in rows {
        assert!(dom.contains(&format!("data-row=\"{}\"", row["id"].as_str().unwrap())), "{row}");
        let cells = row["cells"].as_array().unwrap();
        assert_eq!(cells.len(), matrix["columns"].as_array().unwrap().len(), "a cell per column: {row}");
        for cell in cells {
            let id = format!("data-cell=\"{}/{}\"", row["id"].as_str().unwrap(), cell["column"].as_str().unwrap());
            let at = dom.find(&id).unwrap_or_else(|| panic!("{id} missing from the compare page"));
            let td = &dom[dom[..at].rfind("<td").unwrap()..at + dom[at..].find("</td>").unwrap()];
            assert!(td.contains(&format!("data-outcome=\"{}\"", cell["outcome"].as_str().unwrap())), "{td}");
            assert!(td.contains("class=\"word\""), "the outcome in words: {td}");
            let stage = cell["stage"].as_str().unwrap();
            if !stage.is_empty() {
                assert!(td.contains(&format!("at the {stage}")), "the refusing stage: {td}");
            }
            let evidence = cell["message"].as_str().unwrap();
            if let Some(word) = evidence.split_whitespace().next() {
                assert!(td.contains(&html_text(word)), "{evidence} not in {td}");
            }
            assert!(td.contains("ended up with"), "the digest it ended up with: {td}");
        }
    }
    let mig = out.path().join("migrate.html");
    let r = sb.x(&["migrate", "--html", mig.to_str().unwrap(), "--json", "-"]);
    r.assert_ok("migrate --html");
    let migrated = r.json();
    let dom = browser.look(&mig, &shots.join(format!("{engine}-migrate.png")));
    let records = migrated["records"].as_array().unwrap();
    assert!(!records.is_empty(), "{migrated}");
    for rec in records {
        let key = format!("data-record=\"{}:{}\"", rec["repository"].as_str().unwrap(), rec["tag"].as_str().unwrap());
        assert!(dom.contains(&key), "{key} missing");
        assert!(dom.contains(rec["dct_digest"].as_str().unwrap()), "digest of {key}");
        assert!(dom.contains(&format!("data-trust=\"{}\"", rec["repository"].as_str().unwrap())), "origin of {key}");
        let at = dom.find(&key).unwrap();
        let tr = &dom[at..at + dom[at..].find("</tr>").unwrap()];
        for sig in rec["signatures"].as_array().unwrap() {
            assert!(tr.contains(&format!("data-format=\"{}\"", sig["format"].as_str().unwrap())), "{sig} in {tr}");
        }
        let carries: Vec<&str> = rec["carries"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert!(!carries.is_empty(), "{rec}");
        assert!(tr.contains(&format!("data-carries=\"{}\"", carries.join(" "))), "{carries:?} in {tr}");
    }
    for f in migrated["formats"].as_array().unwrap() {
        assert!(dom.contains(&format!("New signature: {}", f.as_str().unwrap())), "{f}");
    }
    let kit = migrated["kit"].as_str().unwrap();
    assert!(dom.contains(&format!("data-kit=\"{kit}\"")), "the kit");
    assert!(dom.contains("<code>containers/policy.json</code>"), "the kit's files");

    an_interrupted_run_still_writes_its_page(
        &sb,
        &browser,
        out.path(),
        &shots.join(format!("{engine}-interrupted.png")),
    );
}

/// SIGTERM during a step: the run stops, and its page is written all the same, marked
/// interrupted, with the step that did not run.
fn an_interrupted_run_still_writes_its_page(sb: &Sandbox, browser: &Chromium, dir: &Path, shot: &Path) {
    let hang = format!("sleep 5{}", std::process::id() % 1000 + 1000);
    let f = scenario_file(
        dir,
        "hang",
        &format!(
            "name = \"hang\"\nsummary = \"a step that hangs\"\ndescription = \"ended by a signal\"\n\
             [[steps]]\ntitle = \"hangs\"\nexplain = \"never ends by itself\"\nrun = \"{hang}\"\n\
             [[steps]]\ntitle = \"after the signal\"\nexplain = \"must not run\"\nrun = \"true\"\n"
        ),
    );
    let page = dir.join("interrupted.html");
    let mut child = sb
        .command(&["scenario", "run", "--file", f.to_str().unwrap(), "--html", page.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !sb
        .exec("client", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done")
        .stdout
        .contains(&hang)
    {
        assert!(started.elapsed() < Duration::from_secs(300), "the step never started");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its step started");
        std::thread::sleep(Duration::from_millis(300));
    }
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]), None).assert_ok("kill");
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("the run did not stop within 300 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    let dom = browser.look(&page, shot);
    assert!(dom.contains("interrupted by SIGTERM"), "the page says so");
    assert!(dom.contains("data-step=\"hang/1\"") && dom.contains("data-step=\"hang/2\""), "both steps");
    assert!(dom.contains("<span class=\"word\">interrupted</span>"), "the scenario is marked interrupted");
}

/// Every scenario and step of the report, its trust trees with every role of the views they
/// show, and marks that are shapes with words.
fn run_page_is_complete(browser: &Chromium, page: &Path, report: Option<&serde_json::Value>, shot: &Path) {
    let dom = browser.look(page, shot);
    assert!(dom.contains("data-step=\"guide/1\"") || report.is_some(), "the guide's steps are on the play page");
    let Some(report) = report else { return };
    for s in report["scenarios"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        assert!(dom.contains(&format!("data-scenario=\"{name}\"")), "{name}");
        for st in s["steps"].as_array().unwrap() {
            let id = format!("data-step=\"{name}/{}\"", st["index"]);
            assert!(dom.contains(&id), "{id}");
            assert!(dom.contains(&html_text(st["title"].as_str().unwrap())), "{}", st["title"]);
            if let Some(t) = st.get("trust") {
                let after = &t["after"]["view"];
                assert!(after.is_object(), "no trust view after {id}: {t}");
                for role in after["roles"].as_array().unwrap() {
                    let r = format!("data-role=\"{}\"", role["name"].as_str().unwrap());
                    assert!(dom.contains(&r), "{r} of {id}");
                }
            }
        }
    }
    assert_eq!(dom.matches("class=\"mark ").count(), dom.matches("class=\"word\"").count(), "every mark has a word");
}

/// How a text shows in the DOM's serialisation.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn rotation_shows_the_cross_signed_root(report: &serde_json::Value) {
    let rotation = &report["scenarios"][0];
    assert_eq!(rotation["name"], "key-rotation");
    let steps = rotation["steps"].as_array().unwrap();
    let rotate = steps.iter().find(|s| s["title"].as_str().unwrap().contains("rotates")).unwrap();
    let (before, after) = (&rotate["trust"]["before"]["view"], &rotate["trust"]["after"]["view"]);
    let root =
        |v: &serde_json::Value| v["roles"].as_array().unwrap().iter().find(|r| r["name"] == "root").unwrap().clone();
    assert!(root(after)["version"].as_u64() > root(before)["version"].as_u64(), "root rotated: {after}");
    assert_ne!(root(after)["keys"], root(before)["keys"], "a new root key");
    let old_key = &root(before)["keys"][0]["id"];
    assert!(
        root(after)["signed_by"].as_array().unwrap().contains(old_key),
        "the new root is signed by the old key too"
    );
    // Bob's cache before he follows: stale, and the newer root is cross-signed.
    let follow = steps.iter().find(|s| s["title"] == "Bob follows the rotation").unwrap();
    let stale = &follow["trust"]["before"]["view"];
    assert_eq!(stale["source"], serde_json::json!({"kind": "cache", "identity": "bob"}));
    let c = &root(stale)["compare"];
    assert_eq!((c["state"].as_str(), c["root_keys"].as_str()), (Some("older"), Some("cross-signed")), "{stale}");
}

fn trust_show(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["trust", "show"];
    a.extend(args);
    a.extend(["--json", "-"]);
    let r = sb.x(&a);
    r.assert_ok(&format!("trust show {args:?}"));
    r.json()
}

fn role<'a>(view: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    view["roles"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no {name}: {view}"))
}

fn holders(role: &serde_json::Value) -> Vec<serde_json::Value> {
    role["keys"].as_array().unwrap().iter().flat_map(|k| k["held_by"].as_array().unwrap().clone()).collect()
}

/// After key-rotation the server holds mallory's root: her client holds its key, the owner's
/// client refuses it; the snapshot and timestamp keys are the signer's.
fn shows_rotation_replacement_and_holders(sb: &Sandbox) {
    let v = trust_show(sb, &["test/rotate"]);
    assert_eq!(v["repository"], "sandboxregistry:5000/test/rotate");
    assert_eq!(holders(role(&v, "root")), [serde_json::json!({"place": "client", "identity": "mallory"})]);
    for r in ["snapshot", "timestamp"] {
        assert_eq!(holders(role(&v, r)), [serde_json::json!({"place": "signer"})], "{r}");
    }
    assert!(role(&v, "timestamp")["expiry"].as_str().unwrap().starts_with("expires in 1"), "{v}");
    assert_eq!(role(&v, "root")["compare"]["root_keys"], "unrelated");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks[0]["ok"], true, "a first-time client trusts mallory's root: {checks:?}");
    assert_eq!(checks[1]["ok"], false);
    assert!(checks[1]["message"].as_str().unwrap().contains("could not rotate trust"), "{checks:?}");
    // The tree says the same to a person.
    let r = sb.x(&["trust", "show", "sandboxregistry:5000/test/rotate:latest"]);
    r.assert_ok("trust show (tree)");
    for needle in [
        "├── root v1",
        "held by mallory's client",
        "held by the server (notary-signer)",
        "a different root",
        "✗ the client's next update refuses it",
    ] {
        assert!(r.stdout.contains(needle), "{needle}:\n{}", r.stdout);
    }
}

fn shows_delegations_and_revocation(sb: &Sandbox) {
    let v = trust_show(sb, &["test/delegation"]);
    let releases = role(&v, "targets/releases");
    assert_eq!(releases["parent"], "targets");
    assert_eq!(releases["keys"], serde_json::json!([]), "alice removed: no keys left");
    assert_eq!(role(&v, "targets/alice")["delegated"], false);
    assert!(releases["tags"].as_array().unwrap().iter().any(|t| t["name"] == "alice"));
    assert!(role(&v, "targets")["tags"].as_array().unwrap().iter().any(|t| t["name"] == "owner"));
    let v = trust_show(sb, &["test/revoke"]);
    assert_eq!(role(&v, "targets")["tags"], serde_json::Value::Null, "revoked: no signed tags ({v})");
    assert!(role(&v, "targets")["version"].as_u64().unwrap() >= 3, "revocation published a new targets version");
}

/// Bob pulls, the owner signs again: bob's cache is older than the server, role by role.
fn a_stale_cache_is_visibly_older(sb: &Sandbox) {
    let push = |n: &str| {
        format!(
            "set -e; d=$(mktemp -d); echo {n} $(date +%s%N) > $d/f; tar -C $d -c . | docker import - sandboxregistry:5000/test/stale:latest >/dev/null; docker push sandboxregistry:5000/test/stale:latest >/dev/null"
        )
    };
    sb.x(&["exec", "--", "sh", "-c", "notary -s https://notaryserver:4443 -d ~/.docker/trust --tlscacert /etc/sandbox/ca.crt delete sandboxregistry:5000/test/stale --remote >/dev/null"]).assert_ok("clean");
    sb.x(&["exec", "--", "sh", "-c", &push("one")]).assert_ok("signed push 1");
    sb.x(&["exec", "--identity", "bob", "--", "sh", "-c", "rm -rf \"$DOCKER_CONFIG/trust/tuf/sandboxregistry:5000/test/stale\"; docker pull sandboxregistry:5000/test/stale:latest >/dev/null"]).assert_ok("bob pulls");
    sb.x(&["exec", "--", "sh", "-c", &push("two")]).assert_ok("signed push 2");
    let v = trust_show(sb, &["test/stale", "--identity", "bob"]);
    assert_eq!(v["source"], serde_json::json!({"kind": "cache", "identity": "bob"}));
    for r in ["targets", "snapshot", "timestamp"] {
        let c = &role(&v, r)["compare"];
        assert_eq!(c["state"], "older", "{r}: {c}");
        assert!(c["version"].as_u64() > role(&v, r)["version"].as_u64(), "{r}");
    }
    assert_eq!(role(&v, "root")["compare"]["state"], "same");
    let r = sb.x(&["trust", "show", "test/stale", "--identity", "bob"]);
    assert!(r.stdout.contains("! [stale: the Notary server has v"), "{}", r.stdout);
    assert!(r.stdout.contains("✓ bob's next update accepts it"), "{}", r.stdout);
    // Unknown identities and repositories without trust data: one clear error each.
    let r = sb.x(&["trust", "show", "test/stale", "--identity", "nobody"]);
    r.assert_fails_with("unknown identity", "no client identity `nobody`");
    assert!(r.stderr.contains("bob"), "names the known identities: {}", r.stderr);
    let r = sb.x(&["trust", "show", "test/never-signed"]);
    r.assert_fails_with("no trust data", "has no trust data for sandboxregistry:5000/test/never-signed");
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
}

fn bad_paths_are_refused_before_anything_runs(sb: &Sandbox, dir: &Path) {
    let missing = dir.join("no/such/dir/page.html");
    for args in [
        vec!["scenario", "run", "guide", "--html", missing.to_str().unwrap()],
        vec!["compare", "--html", missing.to_str().unwrap()],
        vec!["migrate", "--html", missing.to_str().unwrap()],
    ] {
        let r = sb.x(&args);
        r.assert_fails_with(&format!("{args:?}"), "does not exist (create it first)");
        assert!(!r.stderr.contains("Comparing") && !r.stderr.contains("[1/"), "work started: {}", r.stderr);
    }
    let r = sb.x(&["scenario", "run", "guide", "--html", dir.to_str().unwrap()]);
    r.assert_fails_with("a directory as the page", "is a directory");
    assert!(!missing.exists());
}

/// Debian's chromium, headless, with the flags it needs as root; each call a fresh profile.
struct Chromium {
    bin: PathBuf,
}

impl Chromium {
    fn new() -> Chromium {
        let bin = ["chromium", "chromium-browser"].iter().find_map(|b| which(b)).expect(
            "chromium is not installed: `cargo xtask test --yes` installs Debian's chromium (apt-get install chromium)",
        );
        Chromium { bin }
    }

    fn cmd(&self, profile: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
        c
    }

    /// Saves a screenshot of `page` to `shot` and returns the rendered DOM.
    fn look(&self, page: &Path, shot: &Path) -> String {
        let url = format!("file://{}", page.display());
        let profile = tempfile::tempdir().unwrap();
        let r: Run = run(
            self.cmd(profile.path()).args([
                "--window-size=1100,1300",
                &format!("--screenshot={}", shot.display()),
                &url,
            ]),
            None,
        );
        r.assert_ok("chromium --screenshot");
        let png = std::fs::read(shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", shot.display());
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(width, 1100, "the screenshot has the window's width");
        let profile = tempfile::tempdir().unwrap();
        let r = run(self.cmd(profile.path()).args(["--dump-dom", &url]), None);
        r.assert_ok("chromium --dump-dom");
        assert!(r.stdout.contains("<main>"), "chromium rendered no page:\n{}", r.stderr);
        // The page beside its screenshot, to open by hand (the README's pictures come from these).
        std::fs::copy(page, shot.with_extension("html")).unwrap();
        r.stdout
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(bin)).find(|p| p.is_file())
}
