//! A scenario's steps as a person would paste them: each script through plain `engine exec`
//! (with the same wrapping for a second identity or a shifted clock, which is part of the
//! command, not of the runner), `engine stop|start` for the actions followed by an until-ready
//! loop, the DB dumped and restored over its socket. What the runner adds is left out: reports,
//! expectations beyond the exit status, time limits, streaming, masking. This is what the
//! `guide` and `catalogue` rows set the runner against. A scenario's own containers start and go
//! the runner's way (setting them up is not what is compared), and so do a scenario's helper (the
//! consumer) and its `migrate` action: that is the tool's own signing either way, not runner work.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::baselines::Plain;
use crate::sandbox::{crash, Sandbox};
use crate::scenario::executor::{self, container_of, wrap_script, DB_DUMP};
use crate::scenario::interpolate::{interpolate, interpolate_regex, Vars};
use crate::scenario::model::Step;
use crate::scenario::{containers, Action, Outcome, Scenario, Target};
use crate::step::clock;
use crate::util;

pub(super) fn scenario_plain(sh: &Shell, sb: &Sandbox, plain: &Plain<'_>, scenario: &Scenario) -> Result<()> {
    let mut vars = Vars::new();
    vars.insert("registry".into(), sb.spec.registry_address()?);
    vars.insert("registry_url".into(), sb.registry_url(&sb.spec.registry_address()?));
    vars.insert("server".into(), sb.spec.server_url()?);
    // Its own run id: registry blobs are shared and every run of a scenario tampers with its own.
    vars.insert("run_id".into(), util::random_hex(4)?);
    let mut snapshots = BTreeMap::new();
    let result = (|| -> Result<()> {
        if scenario.requires.iter().any(|r| r == crate::migrate::consumer::IMAGE) {
            executor::start_consumer(sh, sb)?;
        }
        for decl in &scenario.containers {
            containers::start(sh, sb, &scenario.name, decl)?;
        }
        for (n, step) in scenario.steps.iter().enumerate() {
            step_plain(sh, sb, plain, step, &mut vars, &mut snapshots)
                .with_context(|| format!("{} step {} ({})", scenario.name, n + 1, step.title))?;
        }
        Ok(())
    })();
    let removed = containers::remove_all(sh, sb, &scenario.name);
    result.and(removed.map(|_| ()))
}

fn step_plain(
    sh: &Shell,
    sb: &Sandbox,
    plain: &Plain<'_>,
    step: &Step,
    vars: &mut Vars,
    snapshots: &mut BTreeMap<String, String>,
) -> Result<()> {
    let (ok, text) = match (&step.action, &step.run) {
        (Some(action), _) => {
            action_plain(sh, sb, plain, action, snapshots)?;
            (true, String::new())
        }
        (None, Some(script)) => {
            let mut env = if step.on.is_client() { sb.secrets()?.client_env() } else { Vec::new() };
            for (k, v) in &step.env {
                env.push((k.clone(), interpolate(v, vars)?));
            }
            let clock = match &step.clock {
                Some(offset) => Some((offset.as_str(), clock::Arch::host()?)),
                None => None,
            };
            let script = wrap_script(&interpolate(script.trim_end(), vars)?, step.identity.as_deref(), clock);
            let container = match &step.on {
                Target::Container(c) if !crate::scenario::model::HELPERS.contains(&c.as_str()) => {
                    containers::engine_name(sb, c)
                }
                on => sb.container(container_of(on)?),
            };
            let out = sb.engine.exec(sh, &container, &["sh", "-c", &script], &env, None)?;
            (out.ok(), format!("{}\n{}", out.stdout, out.stderr))
        }
        (None, None) => bail!("neither `run` nor `action`"),
    };
    let as_expected = match step.expect.effective_outcome() {
        Outcome::Success => ok,
        Outcome::Failure => !ok,
        Outcome::Any => true,
    };
    if !as_expected {
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
        bail!("exited {}: {}", if ok { "0" } else { "non-zero" }, tail.join(" | "));
    }
    for cap in &step.capture {
        let re = regex_lite::Regex::new(&interpolate_regex(&cap.regex, vars)?)
            .with_context(|| format!("capture `{}`", cap.name))?;
        let value = re
            .captures(&text)
            .and_then(|m| m.get(1))
            .with_context(|| format!("capture `{}` found nothing", cap.name))?;
        vars.insert(cap.name.clone(), value.as_str().to_string());
    }
    Ok(())
}

fn action_plain(
    sh: &Shell,
    sb: &Sandbox,
    plain: &Plain<'_>,
    action: &Action,
    snapshots: &mut BTreeMap<String, String>,
) -> Result<()> {
    match action {
        Action::Stop(s) => sb.engine.stop(sh, &sb.container(s.as_str())),
        Action::Start(s) | Action::Restart(s) => {
            let name = sb.container(s.as_str());
            if matches!(action, Action::Restart(_)) {
                sb.engine.stop(sh, &name)?;
            }
            sb.engine.start(sh, &name)?;
            plain.wait_all()?;
            // As the runner, and for the same reason: a restarted service may have a new address
            // the client's neighbour cache still has the old one for.
            executor::wait_client_reaches(sh, sb, s.as_str())
        }
        Action::Kill(s) => {
            // What a person types: SIGKILL to the container's main process; the engine's restart
            // policy brings it back. Then a script's `until` on the restart count: the until-ready
            // loops alone can run before the engine has even seen the death (the old process's
            // readiness still answering), and the next step then met a signer that was down.
            let name = sb.container(s.as_str());
            let count = sb.engine.container(sh, &name)?.map(|c| c.restart_count).unwrap_or(0);
            sb.engine.kill_main_process(sh, &name)?;
            let deadline = Instant::now() + crash::BACK_TIMEOUT;
            loop {
                let c = sb.engine.container(sh, &name)?.with_context(|| format!("{name} is gone after the kill"))?;
                if crash::back_after_kill(&c, count) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "{name} was not restarted by its policy within {} s of the kill",
                        crash::BACK_TIMEOUT.as_secs()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            plain.wait_all()?;
            executor::wait_client_reaches(sh, sb, s.as_str())
        }
        Action::DbSnapshot(name) => {
            let out = sb.exec(sh, "db", &["sh", "-c", DB_DUMP], &[], None)?;
            if !out.ok() {
                bail!("dump failed: {}", out.stderr.trim());
            }
            snapshots.insert(name.clone(), out.stdout);
            Ok(())
        }
        Action::Migrate(repo) => {
            let (report, code) = executor::migrate_action(sh, sb, repo)?;
            if code != 0 {
                bail!("migrate {repo} exited {code}: {}", report.trim());
            }
            Ok(())
        }
        Action::DbRestore(name) => {
            let dump = snapshots.get(name).with_context(|| format!("no snapshot named {name}"))?;
            let out = sb.sql(sh, dump)?;
            if !out.ok() {
                bail!("restoring {name} failed: {}", out.combined().trim());
            }
            Ok(())
        }
    }
}
