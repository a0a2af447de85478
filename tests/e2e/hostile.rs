//! Hostile inputs, one table (issue 16): engine mismatches, unknown names, identities, scenario
//! files, export directories, unreadable owners and signals, each tried on a running sandbox
//! beside a bystander sandbox. Every row must give one clear error (or, for a signal, a clean
//! stop: the step's processes killed, the reports kept and marked, 128 + the signal) and leave
//! both sandboxes as they were: the same containers running, the same volumes, the same keys, and
//! no lock file. The README lists the rows (ids and count); a test below keeps the two equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trust_sandbox_tests::{free_port, require_engine, run, scenario_file, workspace_root, xtask_bin, Run, Sandbox};

/// Every row: its id (listed in the README) and what it tries.
const HOSTILE: &[(&str, &str)] = &[
    ("destroy-other-engine", "`destroy --engine <the other engine>` on a running sandbox"),
    ("destroy-engine-env", "`destroy` with `TRUST_SANDBOX_ENGINE=<the other engine>`"),
    ("down-other-engine", "`down --engine <the other engine>`"),
    ("up-other-engine", "`up --engine <the other engine>`"),
    ("destroy-unknown-name", "`destroy` of a name that never existed"),
    ("name-with-infix", "`--name <sandbox>--scn-x` (a name holding `--`)"),
    ("identity-dash", "`exec --identity -x`"),
    ("identity-long", "`exec --identity` of 300 characters"),
    ("identity-path", "`exec --identity ../x`"),
    ("scenario-identity", "a scenario step with `identity = \"a/b\"`"),
    ("scenario-5mb-run", "a scenario whose `run` is 5 MB"),
    ("scenario-service-name", "a scenario container named `db`"),
    ("scenario-collision", "a scenario container `x-db` beside the running db of sandbox `<sandbox>-x`"),
    ("export-mixed", "`export kube` into a directory that holds an `export compose`"),
    ("owner-unreadable", "`destroy` from another state root while the owner's `state.json` cannot be read"),
    ("owner-unmounted", "`destroy` from another state root while the owner's state root is missing"),
    ("sigint", "SIGINT during a step"),
    ("sigint-twice", "two SIGINTs during a step"),
    ("sigterm", "SIGTERM during a step"),
    ("sighup", "SIGHUP during a step"),
    ("timeout", "a parent `timeout N` (SIGTERM) during a step"),
];

#[test]
fn docker_hostile_inputs() {
    hostile_inputs("docker");
}

#[test]
fn podman_hostile_inputs() {
    hostile_inputs("podman");
}

/// The README names every row and the count, so the list there is the list here.
#[test]
fn the_readme_lists_every_hostile_input() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for (id, _) in HOSTILE {
        assert!(readme.contains(&format!("`{id}`")), "README.md does not list hostile input `{id}`");
    }
    let count = format!("{} inputs on each engine", HOSTILE.len());
    assert!(readme.contains(&count), "README.md must say `{count}` for tests/e2e/hostile.rs");
}

struct Ctx<'a> {
    engine: &'a str,
    other: &'a str,
    target: &'a Sandbox,
    bystander: &'a Sandbox,
    scratch: &'a Path,
    /// How long a signal row took to reach its running step (sets the `timeout` row's N).
    reach: Duration,
}

fn hostile_inputs(engine: &str) {
    require_engine("docker");
    require_engine("podman");
    let other = if engine == "docker" { "podman" } else { "docker" };
    let target = Sandbox::new(engine, "hostile");
    let bystander = Sandbox::named(engine, &format!("{}-x", target.name), free_port(), free_port());
    target.up().assert_ok("up of the target");
    bystander.up().assert_ok("up of the bystander");
    let scratch = tempfile::tempdir().unwrap();
    // Set-up for `export-mixed`: an earlier export of the other format.
    let exported = scratch.path().join("export");
    target.x(&["export", "compose", "--out", exported.to_str().unwrap()]).assert_ok("export compose");

    let mut ctx =
        Ctx { engine, other, target: &target, bystander: &bystander, scratch: scratch.path(), reach: Duration::ZERO };
    // For working on one row: TS_HOSTILE_ONLY=id,id (the suite itself runs them all).
    let only = std::env::var("TS_HOSTILE_ONLY").ok();
    for (id, what) in HOSTILE {
        if only.as_deref().is_some_and(|o| !o.split(',').any(|x| x == *id)) {
            eprintln!("--- {engine}: {id}: skipped (TS_HOSTILE_ONLY)");
            continue;
        }
        let before = snapshot(&ctx);
        eprintln!("--- {engine}: {id}: {what}");
        try_one(&mut ctx, id);
        assert_eq!(snapshot(&ctx), before, "{engine} {id} ({what}) changed a sandbox");
        assert_no_lock_left(&target, id);
    }

    // The right engine still destroys it all.
    target.x(&["destroy"]).assert_ok("destroy with the recorded engine");
    assert!(target.labelled("container").is_empty() && target.labelled("volume").is_empty());
    assert!(!target.state_dir().exists(), "state left after destroy");
    assert_no_lock_left(&target, "destroy");
}

fn try_one(ctx: &mut Ctx<'_>, id: &str) {
    let (t, engine, other) = (ctx.target, ctx.engine, ctx.other);
    let with_engine = |e: &str, args: &[&str]| -> Run {
        let mut c = Command::new(xtask_bin());
        c.arg("sandbox").args(["--name", &t.name, "--engine", e]).args(args);
        c.env("TRUST_SANDBOX_STATE", t.state.path()).env("NO_COLOR", "1").env_remove("TRUST_SANDBOX_ENGINE");
        run(&mut c, None)
    };
    let mismatch = format!("lives on {engine}, not {other}");
    match id {
        "destroy-other-engine" => {
            let r = with_engine(other, &["destroy"]);
            one_clear_error(&r, id, &mismatch);
            assert!(r.stderr.contains("nothing was changed") && r.stderr.contains(&format!("--engine {engine}")));
        }
        "destroy-engine-env" => {
            let mut c = Command::new(xtask_bin());
            c.arg("sandbox").args(["--name", &t.name, "destroy"]);
            c.env("TRUST_SANDBOX_STATE", t.state.path()).env("NO_COLOR", "1").env("TRUST_SANDBOX_ENGINE", other);
            let r = run(&mut c, None);
            one_clear_error(&r, id, &format!("TRUST_SANDBOX_ENGINE={other}"));
            assert!(r.stderr.contains(&mismatch), "{}", r.stderr);
        }
        "down-other-engine" => one_clear_error(&with_engine(other, &["down"]), id, &mismatch),
        "up-other-engine" => one_clear_error(&with_engine(other, &["up"]), id, &mismatch),
        "destroy-unknown-name" => {
            let r = xtask_in(t.state.path(), &["--name", "tse2e-never-existed", "--engine", engine, "destroy"]);
            one_clear_error(&r, id, "no sandbox named `tse2e-never-existed`");
            assert!(r.stderr.contains("nothing to destroy") && r.stderr.contains(&t.name), "{}", r.stderr);
            assert!(!t.state.path().join("tse2e-never-existed").exists());
        }
        "name-with-infix" => {
            let name = format!("{}--scn-x", t.name);
            let r = xtask_in(t.state.path(), &["--name", &name, "--engine", engine, "status"]);
            one_clear_error(&r, id, "invalid sandbox name");
            assert!(r.stderr.contains("no '--'"), "{}", r.stderr);
        }
        "identity-dash" => identity_refused(t, id, "-x"),
        "identity-long" => identity_refused(t, id, &"a".repeat(300)),
        "identity-path" => identity_refused(t, id, "../x"),
        "scenario-identity" => {
            let f = scenario_file(ctx.scratch, "identity", &steps("identity = \"a/b\"\nrun = \"echo ran\""));
            let r = t.x(&["scenario", "run", "--file", f.to_str().unwrap()]);
            one_clear_error(&r, id, "invalid identity \"a/b\"");
            assert!(!r.stderr.contains("[1/"), "the run started:\n{}", r.stderr);
        }
        "scenario-5mb-run" => {
            let body =
                "echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\n".repeat(5 * 1024 * 1024 / 70);
            let f = scenario_file(ctx.scratch, "huge", &steps(&format!("run = '''\n{body}'''")));
            let r = t.x(&["scenario", "run", "--file", f.to_str().unwrap()]);
            one_clear_error(&r, id, "128 KiB");
            assert!(r.stderr.len() < 20_000, "the script was echoed: {} bytes of stderr", r.stderr.len());
        }
        "scenario-service-name" => {
            let f = scenario_file(
                ctx.scratch,
                "service-name",
                &scenario(&container("db", "[]"), "on = \"db\"\nrun = \"true\""),
            );
            let r = t.x(&["scenario", "run", "--file", f.to_str().unwrap()]);
            one_clear_error(&r, id, "is a service of the sandbox");
        }
        "scenario-collision" => {
            // The old engine name of this container was `<target>-x-db`: the bystander's database.
            let bystander_db = ctx.bystander.container("db");
            let id_before = container_id(t, &bystander_db);
            let f = scenario_file(
                ctx.scratch,
                "collision",
                &scenario(&container("x-db", "[]"), "on = \"x-db\"\nrun = \"echo inside\""),
            );
            let r = t.x(&["scenario", "run", "--file", f.to_str().unwrap()]);
            r.assert_ok("a scenario container named x-db");
            assert_eq!(container_id(t, &bystander_db), id_before, "the bystander's db was replaced or removed");
            let running = t.engine_cli(&["inspect", "--format", "{{.State.Running}}", &bystander_db]);
            assert_eq!(running.stdout.trim(), "true", "the bystander's db is not running");
            let scn = format!("{}--scn-x-db", t.name);
            assert!(container_id(t, &scn).is_empty(), "the scenario's container {scn} was left");
        }
        "export-mixed" => {
            let dir = ctx.scratch.join("export");
            let r = t.x(&["export", "kube", "--out", dir.to_str().unwrap()]);
            one_clear_error(&r, id, "holds an earlier `export compose`");
            assert!(!dir.join("sandbox.yaml").exists(), "the kube manifest was written beside the compose one");
        }
        "owner-unreadable" => {
            let b = ctx.bystander;
            let file = b.state_dir().join("state.json");
            let aside = b.state_dir().join("state.json.aside");
            std::fs::rename(&file, &aside).unwrap();
            // As root every file is readable; a directory in its place cannot be read as a file.
            std::fs::create_dir(&file).unwrap();
            let r = foreign_destroy(ctx);
            std::fs::remove_dir(&file).unwrap();
            std::fs::rename(&aside, &file).unwrap();
            one_clear_error(&r, id, "cannot be read");
            assert!(r.stderr.contains("not treated as gone"), "{}", r.stderr);
        }
        "owner-unmounted" => {
            let root = ctx.bystander.state.path().to_path_buf();
            let away = root.with_extension("away");
            std::fs::rename(&root, &away).unwrap();
            let r = foreign_destroy(ctx);
            std::fs::rename(&away, &root).unwrap();
            one_clear_error(&r, id, "cannot be read");
            assert!(r.stderr.contains("unmounted disk"), "{}", r.stderr);
        }
        "sigint" => signal_row(ctx, id, &["INT"], 130, "SIGINT"),
        "sigint-twice" => signal_row(ctx, id, &["INT", "INT"], 130, "SIGINT"),
        "sigterm" => signal_row(ctx, id, &["TERM"], 143, "SIGTERM"),
        "sighup" => signal_row(ctx, id, &["HUP"], 129, "SIGHUP"),
        "timeout" => signal_row(ctx, id, &[], 124, "SIGTERM"),
        other => panic!("no case for hostile input `{other}`"),
    }
}

fn xtask_in(state: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(xtask_bin());
    c.arg("sandbox").args(args).env("TRUST_SANDBOX_STATE", state).env("NO_COLOR", "1");
    c.env_remove("TRUST_SANDBOX_NAME").env_remove("TRUST_SANDBOX_ENGINE");
    run(&mut c, None)
}

/// `destroy` of the bystander's name from a third state root: its objects' owner is checked.
fn foreign_destroy(ctx: &Ctx<'_>) -> Run {
    let root = ctx.scratch.join("third-root");
    xtask_in(&root, &["--name", &ctx.bystander.name, "--engine", ctx.engine, "destroy"])
}

#[track_caller]
fn one_clear_error(r: &Run, id: &str, needle: &str) {
    r.assert_fails_with(id, needle);
    assert_eq!(r.stderr.matches("error:").count(), 1, "{id}: one error line:\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{id}:\n{}", r.stderr);
}

fn identity_refused(t: &Sandbox, id: &str, identity: &str) {
    let marker = t.state.path().join(format!("ran-{id}"));
    let script = format!("touch {}", marker.display());
    let r = t.x(&["exec", "--identity", identity, "--", "sh", "-c", &script]);
    one_clear_error(&r, id, "invalid identity");
    assert!(!marker.exists(), "{id}: the command ran");
}

/// A scenario file: the header, then `containers` (TOML tables), then one step.
fn scenario(containers: &str, step: &str) -> String {
    format!(
        "name = \"hostile\"\nsummary = \"a hostile input\"\ndescription = \"tried by tests/e2e/hostile.rs\"\n\
         {containers}\n[[steps]]\ntitle = \"the step\"\nexplain = \"what the row tries\"\n{step}\n"
    )
}

fn steps(step: &str) -> String {
    scenario("", step)
}

fn container(name: &str, aliases: &str) -> String {
    format!("[[containers]]\nname = \"{name}\"\nimage = \"registry\"\naliases = {aliases}\ncommand = [\"sleep\", \"infinity\"]\n")
}

fn container_id(t: &Sandbox, name: &str) -> String {
    let r = t.engine_cli(&["ps", "--all", "--quiet", "--no-trunc", "--filter", &format!("name=^{name}$")]);
    r.assert_ok("ps");
    r.stdout.trim().to_string()
}

/// A step that hangs in the client beside a scenario container, ended by `signals` (or by a
/// parent `timeout`): the run stops with `code`, names `cause`, kills the step's processes,
/// removes the scenario's container and keeps both reports, marked interrupted.
fn signal_row(ctx: &mut Ctx<'_>, id: &str, signals: &[&str], code: i32, cause: &str) {
    let t = ctx.target;
    let hang = format!("sleep 4{}", std::process::id() % 1000 + 1000);
    let f = scenario_file(
        ctx.scratch,
        &format!("signal-{id}"),
        &format!(
            "name = \"hang\"\nsummary = \"a step that hangs\"\ndescription = \"ended by a signal\"\n{}\n\
             [[steps]]\ntitle = \"hangs\"\nexplain = \"never ends by itself\"\nrun = \"echo started; {hang}\"\n\
             [[steps]]\ntitle = \"after\"\nexplain = \"must not run\"\nrun = \"true\"\n",
            container("helper", "[]")
        ),
    );
    let (json, junit) = (ctx.scratch.join(format!("{id}.json")), ctx.scratch.join(format!("{id}.xml")));
    let err_file = ctx.scratch.join(format!("{id}.stderr"));
    let args = ["scenario", "run", "--file", f.to_str().unwrap(), "--json", json.to_str().unwrap(), "--junit"];
    let mut cmd = if signals.is_empty() {
        // `timeout` sends SIGTERM to its child and to its process group (the tool gets it twice).
        let n = (ctx.reach.as_secs() * 3 + 20).to_string();
        let mut c = Command::new("timeout");
        c.arg(n).arg(xtask_bin()).arg("sandbox").args(["--name", &t.name, "--engine", ctx.engine]);
        c.env("TRUST_SANDBOX_STATE", t.state.path()).env("NO_COLOR", "1");
        c
    } else {
        let mut c = Command::new(xtask_bin());
        c.arg("sandbox").args(["--name", &t.name, "--engine", ctx.engine]);
        c.env("TRUST_SANDBOX_STATE", t.state.path()).env("NO_COLOR", "1");
        c
    };
    cmd.args(args).arg(&junit).stdin(Stdio::null()).stdout(Stdio::null());
    cmd.stderr(std::fs::File::create(&err_file).unwrap());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let running = || {
        t.exec("client", "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done")
            .stdout
            .contains(&hang)
    };
    while !running() {
        assert!(started.elapsed() < Duration::from_secs(300), "{id}: the step never started");
        assert!(child.try_wait().unwrap().is_none(), "{id}: the run ended before its step started");
        std::thread::sleep(Duration::from_millis(200));
    }
    ctx.reach = ctx.reach.max(started.elapsed());
    let signalled = Instant::now();
    for sig in signals {
        run(Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]), None).assert_ok("kill");
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = wait(&mut child, Duration::from_secs(300), id);
    // A figure for the README, not an assertion (the machine is shared).
    eprintln!("    {id}: the run ended {:.1} s after the signal", signalled.elapsed().as_secs_f64());
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(status, code, "{id}: exit status\n{stderr}");
    assert!(
        stderr.contains(&format!("interrupted by {cause}: killed the step's")),
        "{id}: the cause and what was killed:\n{stderr}"
    );
    assert!(stderr.contains("removed the scenario's container"), "{id}:\n{stderr}");
    assert!(!running(), "{id}: the step's processes survived");
    assert!(container_id(t, &format!("{}--scn-helper", t.name)).is_empty(), "{id}: the scenario's container was left");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], cause, "{id}: {report}");
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(steps[0]["status"], "failed", "{id}: {steps}");
    assert_eq!(steps[1]["status"], "not-run", "{id}: {steps}");
    assert!(steps[1]["note"].as_str().unwrap().contains(&format!("interrupted by {cause}")), "{id}: {steps}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(&format!("<property name=\"interrupted\" value=\"{cause}\"/>")), "{id}: {xml}");
}

fn wait(child: &mut std::process::Child, limit: Duration, id: &str) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{id}: the run did not end after its signal");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What must not change: each sandbox's containers (id, state), volumes, and its state files
/// (names and sizes; the keys and secrets by content). A scenario's own files are not part of it.
fn snapshot(ctx: &Ctx<'_>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for sb in [ctx.target, ctx.bystander] {
        let label = format!("label=io.trust-sandbox.instance={}", sb.name);
        // Which containers (ids), and which of them run: podman's `.State` is a changing text.
        for (key, running) in [("containers", false), ("running", true)] {
            let mut args = vec!["ps", "--all", "--no-trunc", "--filter", &label, "--format", "{{.ID}} {{.Names}}"];
            if running {
                args.extend(["--filter", "status=running"]);
            }
            let ps = sb.engine_cli(&args);
            ps.assert_ok("ps");
            let mut lines: Vec<&str> = ps.stdout.lines().collect();
            lines.sort();
            m.insert(format!("{} {key}", sb.name), lines.join("\n"));
        }
        m.insert(format!("{} volumes", sb.name), sb.labelled("volume").join(" "));
        for f in files(&sb.state_dir()) {
            let rel = f.strip_prefix(sb.state_dir()).unwrap().display().to_string();
            if rel.starts_with("scenario-files") {
                continue;
            }
            let bytes = std::fs::read(&f).unwrap_or_default();
            // Keys and secrets by content (hashed: a failure message must not print them).
            let value = if rel.ends_with(".key") || rel.ends_with("secrets.json") {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                format!("{} bytes, hash {:x}", bytes.len(), h.finish())
            } else {
                bytes.len().to_string()
            };
            m.insert(format!("{} {rel}", sb.name), value);
        }
    }
    m
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_lock_left(t: &Sandbox, after: &str) {
    let locks = t.state.path().join(".locks");
    let left: Vec<String> = std::fs::read_dir(&locks)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "after {after}: lock files left in {}: {left:?}", locks.display());
}
