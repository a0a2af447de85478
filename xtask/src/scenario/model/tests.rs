use super::*;

fn parse(steps: &str) -> Result<Scenario> {
    Scenario::from_toml(&format!("name = \"demo\"\nsummary = \"s\"\ndescription = \"d\"\n{steps}"), "demo.toml")
}

fn error(steps: &str) -> String {
    format!("{:#}", parse(steps).unwrap_err())
}

#[test]
fn every_field_parses() {
    let s = parse(
        r#"
requires = ["faketime"]

[[steps]]
title = "snapshot"
explain = "keeps the current metadata"
on = "engine"
action = { db_snapshot = "before" }

[[steps]]
title = "stop, start, restart"
explain = "x"
on = "engine"
action = { restart = "notaryserver" }

[[steps]]
title = "alice signs later"
explain = "x"
identity = "alice"
clock = "+400d"
env = { NOTARY_TARGETS_PASSPHRASE = "{{run_id}}" }
run = "docker trust sign {{registry}}/x:1"
capture = [{ name = "key", regex = 'key (\w+)' }]

[steps.expect]
outcome = "failure"
exit_code = 1
contains = ["expired"]
not_contains = ["Successfully"]
matches = ['snapshot expired at .*']
not_matches = ['panic']
stdout_contains = ["x"]

[[steps]]
title = "restore"
explain = "x"
on = "engine"
action = { db_restore = "before" }

[[steps]]
title = "db query"
explain = "x"
on = "db"
run = "mariadb -e 'select 1' # {{key}}"
"#,
    )
    .unwrap();
    assert_eq!(s.steps[0].action, Some(Action::DbSnapshot("before".into())));
    assert_eq!(s.steps[1].action, Some(Action::Restart(ServiceName::named("notaryserver"))));
    assert_eq!(s.steps[2].on, Target::named("client"));
    assert_eq!(s.steps[2].expect.effective_outcome(), Outcome::Failure);
    assert_eq!(s.steps[4].on, Target::named("db"));
    assert_eq!(s.steps[0].command_template(), "db_snapshot before");
}

#[test]
fn a_kill_is_an_engine_action_on_a_service() {
    let s = Scenario::from_toml(
        r#"
name = "k"
summary = "s"
description = "d"
[[steps]]
title = "kill"
explain = "x"
on = "engine"
action = { kill = "client" }
expect = { contains = ["the engine restarted it by itself"] }
"#,
        "k.toml",
    )
    .unwrap();
    assert_eq!(s.steps[0].action, Some(Action::Kill(ServiceName::named("client"))));
    assert_eq!(s.steps[0].command_template(), "kill client");
    let in_client = "name = \"k\"\nsummary = \"s\"\ndescription = \"d\"\n[[steps]]\ntitle = \"t\"\nexplain = \"x\"\naction = { kill = \"db\" }\n";
    assert!(Scenario::from_toml(in_client, "k.toml").is_err(), "a kill runs on the engine only");
}

#[test]
fn errors_name_scenario_and_step() {
    let e = error(
        r#"
[[steps]]
title = "first"
explain = "x"
run = "echo {{digest}}"
"#,
    );
    assert!(e.contains("invalid scenario file demo.toml"), "{e}");
    assert!(
        e.contains("scenario `demo`, step 1 (\"first\"): run uses `{{digest}}`, which is not defined before this step"),
        "{e}"
    );
}

#[test]
fn variable_captured_only_later_is_pointed_out() {
    let e = error(
        r#"
[[steps]]
title = "use"
explain = "x"
run = "echo {{digest}}"
[[steps]]
title = "capture"
explain = "x"
run = "true"
capture = [{ name = "digest", regex = '(x)' }]
"#,
    );
    assert!(e.contains("(it is captured later, by step 2)"), "{e}");
}

#[test]
fn a_step_cannot_use_its_own_capture() {
    let e = error(
        r#"
[[steps]]
title = "self"
explain = "x"
run = "true"
expect = { contains = ["{{d}}"] }
capture = [{ name = "d", regex = '(x)' }]
"#,
    );
    assert!(e.contains("expect uses `{{d}}`"), "{e}");
}

#[test]
fn capture_names_are_unique_and_do_not_shadow_builtins() {
    let e = error(
        r#"
[[steps]]
title = "a"
explain = "x"
run = "true"
capture = [{ name = "d", regex = '(x)' }, { name = "registry", regex = '(y)' }]
[[steps]]
title = "b"
explain = "x"
run = "true"
capture = [{ name = "d", regex = '(x)' }]
"#,
    );
    assert!(e.contains("capture `registry` would shadow a builtin"), "{e}");
    assert!(e.contains("step 2 (\"b\"): capture `d` is already defined by step 1"), "{e}");
}

#[test]
fn run_xor_action_and_action_only_on_engine() {
    let both = error(
        r#"
[[steps]]
title = "both"
explain = "x"
on = "engine"
run = "true"
action = { stop = "db" }
"#,
    );
    assert!(both.contains("has both `run` and `action`"), "{both}");
    let neither = error("[[steps]]\ntitle = \"n\"\nexplain = \"x\"\n");
    assert!(neither.contains("needs `run` (a script) or `action`"), "{neither}");
    let client = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\naction = { stop = \"notarysigner\" }\n");
    assert!(client.contains("`action` (stop notarysigner) needs on = \"engine\", not on = \"client\""), "{client}");
    let engine_run = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"engine\"\nrun = \"ls\"\n");
    assert!(engine_run.contains("only takes an `action`"), "{engine_run}");
}

#[test]
fn unknown_service_or_action_is_a_parse_error() {
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"engine\"\naction = { stop = \"nginx\" }\n");
    assert!(e.contains("cannot parse scenario file demo.toml"), "{e}");
    assert!(e.contains("nginx"), "{e}");
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"engine\"\naction = { explode = \"db\" }\n");
    assert!(e.contains("explode"), "{e}");
}

#[test]
fn unknown_fields_are_rejected() {
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\nexpect = { outcom = \"failure\" }\n");
    assert!(e.contains("outcom"), "{e}");
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\ntimeout = 5\n");
    assert!(e.contains("timeout"), "{e}");
}

#[test]
fn regexes_must_compile_and_captures_need_a_group() {
    let e = error(
        r#"
[[steps]]
title = "a"
explain = "x"
run = "true"
expect = { matches = ['(unclosed'], not_matches = ['fine {{registry}}'] }
capture = [{ name = "nogroup", regex = 'sha256:[0-9a-f]+' }, { name = "bad", regex = '[' }]
"#,
    );
    assert!(e.contains("regex /(unclosed/ does not compile"), "{e}");
    assert!(e.contains("capture `nogroup`: regex /sha256:[0-9a-f]+/ has no group"), "{e}");
    assert!(e.contains("capture `bad`: regex /[/ does not compile"), "{e}");
    assert!(!e.contains("fine"), "{e}");
}

#[test]
fn clock_needs_faketime_and_a_valid_offset() {
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\nclock = \"next year\"\n");
    assert!(e.contains("clock `next year` is not a faketime offset"), "{e}");
    assert!(e.contains("does not list `requires = [\"faketime\"]`"), "{e}");
    for ok in ["+400d", "-2h", "+1.5y", "@2030-01-01 00:00:00", "2030-01-01"] {
        assert!(is_clock(ok), "{ok}");
    }
    let e = error("requires = [\"time-travel\"]\n[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\n");
    assert!(e.contains("requires unknown capability `time-travel` (known: faketime, consumer)"), "{e}");
}

#[test]
fn identity_only_on_the_client() {
    let e = error(
        "[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"registry\"\nidentity = \"Alice Smith\"\nrun = \"true\"\n",
    );
    assert!(e.contains("`identity` only applies on \"client\", not on \"registry\""), "{e}");
    assert!(e.contains("invalid identity \"Alice Smith\"") && e.contains("no '--'"), "{e}");
}

#[test]
fn restore_needs_an_earlier_snapshot() {
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"engine\"\naction = { db_restore = \"old\" }\n");
    assert!(e.contains("db_restore `old` but no earlier step takes db_snapshot `old`"), "{e}");
}

#[test]
fn outcome_and_exit_code_must_agree() {
    let e = error(
            "[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\nexpect = { outcome = \"success\", exit_code = 2 }\n",
        );
    assert!(e.contains("expects outcome \"success\" but exit_code 2"), "{e}");
    let e = error(
            "[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\nexpect = { outcome = \"failure\", exit_code = 0 }\n",
        );
    assert!(e.contains("expects outcome \"failure\" but exit_code 0"), "{e}");
}

#[test]
fn unclosed_placeholder_and_scenario_fields() {
    let e = Scenario::from_toml(
        "name = \"Bad Name\"\nsummary = \"two\\nlines\"\ndescription = \" \"\nsteps = []\n",
        "bad.toml",
    )
    .unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("name must be lowercase"), "{e}");
    assert!(e.contains("summary must be one non-empty line"), "{e}");
    assert!(e.contains("description is empty"), "{e}");
    assert!(e.contains("has no steps"), "{e}");
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"echo {{oops\"\n");
    assert!(e.contains("run: unclosed `{{`"), "{e}");
}

#[test]
fn effective_outcome() {
    let e = |outcome, exit_code| Expect { outcome, exit_code, ..Expect::default() };
    assert_eq!(e(None, None).effective_outcome(), Outcome::Success);
    assert_eq!(e(None, Some(0)).effective_outcome(), Outcome::Success);
    assert_eq!(e(None, Some(3)).effective_outcome(), Outcome::Failure);
    assert_eq!(e(Some(Outcome::Any), None).effective_outcome(), Outcome::Any);
}

const IMPOSTOR: &str = r#"
requires = ["faketime"]

[[containers]]
name = "impostor"
image = "client"
aliases = ["notary-impostor"]
command = ["notary-server", "-config", "/etc/impostor/server.json"]
ready = "curl -fsk https://localhost:4443/_notary_server/health"
files = [{ path = "/etc/impostor/server.json", content = "{}" }]

[[steps]]
title = "sign on the impostor"
explain = "x"
on = "impostor"
clock = "+1d"
run = "notary list x"
"#;

#[test]
fn declared_containers_parse_and_steps_run_in_them() {
    let s = parse(IMPOSTOR).unwrap();
    assert_eq!(s.containers.len(), 1);
    let c = &s.containers[0];
    assert_eq!((c.name.as_str(), c.image.as_str()), ("impostor", "client"));
    assert_eq!(c.aliases, vec!["notary-impostor"]);
    assert_eq!(c.files[0].path, "/etc/impostor/server.json");
    assert_eq!(s.steps[0].on, Target::Container("impostor".into()));
    assert_eq!(s.steps[0].on.to_string(), "impostor");
    assert_eq!(s.steps[0].on.service(), None);
}

#[test]
fn a_step_on_an_undeclared_container_is_refused_with_the_known_names() {
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"imposter\"\nrun = \"true\"\n");
    assert!(
        e.contains("on = \"imposter\" names no service and no container of this scenario (known: db, notarysigner, notaryserver, registry, client, engine)"),
        "{e}"
    );
    let e = error(&IMPOSTOR.replace("on = \"impostor\"", "on = \"imposter\""));
    assert!(e.contains("(known: db, notarysigner, notaryserver, registry, client, engine, impostor)"), "{e}");
}

#[test]
fn container_declarations_are_checked() {
    let e = error(
        r#"
[[containers]]
name = "db"
image = ""
command = []
aliases = ["Not A Name"]
files = [{ path = "relative/x", content = "" }, { path = "relative/x", content = "" }]

[[containers]]
name = "twice"
image = "notary"
command = ["true"]

[[containers]]
name = "twice"
image = "notary"
command = ["true"]

[[steps]]
title = "a"
explain = "x"
run = "true"
"#,
    );
    assert!(e.contains("container `db`: `db` is a service of the sandbox"), "{e}");
    assert!(e.contains("container `db`: needs an `image`"), "{e}");
    assert!(e.contains("container `db`: `command` is empty"), "{e}");
    assert!(e.contains("alias `Not A Name` must be lowercase"), "{e}");
    assert!(e.contains("file path `relative/x` must be absolute"), "{e}");
    assert!(e.contains("file `relative/x` is declared twice"), "{e}");
    assert!(e.contains("container `twice`: is declared twice"), "{e}");
}

#[test]
fn clock_runs_only_where_the_client_image_carries_the_emulator() {
    let e = error(
        "requires = [\"faketime\"]\n[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"registry\"\nclock = \"+15d\"\nrun = \"true\"\n",
    );
    assert!(
        e.contains(
            "`clock` needs the emulator and libfaketime, which only the client image carries; on = \"registry\""
        ),
        "{e}"
    );
    let e = error(&IMPOSTOR.replace("image = \"client\"", "image = \"notary\""));
    assert!(e.contains("on = \"impostor\" cannot shift it"), "{e}");
    assert!(parse(IMPOSTOR).is_ok());
}

#[test]
fn step_timeouts_parse_default_and_refuse_nonsense() {
    let s = parse("[[steps]]\ntitle = \"t\"\nexplain = \"e\"\nrun = \"true\"\ntimeout = \"90s\"\n").unwrap();
    assert_eq!(s.steps[0].time_limit(), std::time::Duration::from_secs(90));
    let s = parse("[[steps]]\ntitle = \"t\"\nexplain = \"e\"\nrun = \"true\"\n").unwrap();
    assert_eq!(s.steps[0].time_limit(), DEFAULT_STEP_TIMEOUT);
    assert_eq!(parse_timeout("5m").unwrap().as_secs(), 300);
    assert_eq!(parse_timeout("2").unwrap().as_secs(), 2);
    for bad in ["0s", "5d", "s", "-1s", "1.5s"] {
        assert!(parse_timeout(bad).is_err(), "{bad}");
    }
    let e = error("[[steps]]\ntitle = \"t\"\nexplain = \"e\"\nrun = \"true\"\ntimeout = \"soon\"\n");
    assert!(e.contains("timeout `soon`"), "{e}");
}

#[test]
fn the_migrate_action_and_the_consumer_helper() {
    let s = parse(
        r#"
requires = ["consumer"]
[[steps]]
title = "migrate"
explain = "x"
on = "engine"
action = { migrate = "test/app" }
[[steps]]
title = "pull"
explain = "x"
on = "consumer"
run = "podman pull x"
"#,
    )
    .unwrap();
    assert_eq!(s.steps[0].action, Some(Action::Migrate("test/app".into())));
    assert_eq!(s.steps[0].command_template(), "migrate test/app");
    assert_eq!(s.steps[1].on, Target::Container("consumer".into()));
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"consumer\"\nrun = \"true\"\n");
    assert!(e.contains("`consumer` needs `requires = [\"consumer\"]`"), "{e}");
    let e =
        error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\non = \"engine\"\naction = { migrate = \"r@sha256:x\" }\n");
    assert!(e.contains("must be a repository path"), "{e}");
    let e = error("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\naction = { migrate = \"test/app\" }\n");
    assert!(e.contains("needs on = \"engine\""), "{e}");
    let e = error("[[containers]]\nname = \"consumer\"\nimage = \"notary\"\ncommand = [\"true\"]\n\n[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = \"true\"\n");
    assert!(e.contains("container `consumer`: `consumer` is a helper of the sandbox"), "{e}");
}

#[test]
fn a_run_too_long_for_one_argument_is_refused_with_the_limit() {
    let long = "echo x\n".repeat(MAX_RUN_BYTES / 7 + 1);
    let e = error(&format!("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = '''\n{long}'''\n"));
    assert!(e.contains("`run` is") && e.contains("128 KiB"), "{}", &e[..e.len().min(400)]);
    let fits = "echo x\n".repeat(MAX_RUN_BYTES / 8);
    assert!(parse(&format!("[[steps]]\ntitle = \"a\"\nexplain = \"x\"\nrun = '''\n{fits}'''\n")).is_ok());
}
