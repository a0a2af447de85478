//! A scenario's own containers (`[[containers]]`): started beside the stack before its first step,
//! removed after its last. They carry the sandbox's labels, so `down` and `destroy` remove one
//! that an interrupted run left behind. Their engine name is `<sandbox>--scn-<container>`: no
//! sandbox name holds `--`, so it is never the name of any sandbox's service container; and, as
//! everything removed by name, one is removed only if it carries this sandbox's labels.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::model::Container;
use crate::engine::objects::Kind;
use crate::engine::{Mount, RunSpec};
use crate::sandbox::{name, Sandbox};

/// How long a declared container's `ready` command may take to succeed.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Marks a scenario's container (the value is the scenario's name).
pub const LABEL_SCENARIO: &str = "io.trust-sandbox.scenario";

/// The engine's name for a scenario's container `container` of sandbox `sb`.
pub fn engine_name(sb: &Sandbox, container: &str) -> String {
    name::scenario_object(&sb.name, container)
}

/// Starts `decl` on the sandbox network and waits for its `ready` command; returns its engine name.
pub fn start(sh: &Shell, sb: &Sandbox, scenario: &str, decl: &Container) -> Result<String> {
    let name = engine_name(sb, &decl.name);
    let spec = run_spec(sh, sb, scenario, decl)?;
    // A run that was killed half-way may have left it: removed if it is ours, refused if not.
    sb.remove_own_containers(sh, std::slice::from_ref(&name))
        .with_context(|| format!("the scenario's container `{}`", decl.name))?;
    if let Err(e) = sb.engine.run(sh, &spec) {
        // The engine may have created it before failing to start it.
        let _ = sb.remove_own_containers(sh, std::slice::from_ref(&name));
        return Err(e.context(format!("starting the scenario's container `{}`", decl.name)));
    }
    if let Some(ready) = &decl.ready {
        if let Err(e) = wait_ready(sh, sb, &name, &decl.name, ready) {
            let tail = sb.engine.logs_tail(sh, &name, 15).unwrap_or_default();
            let _ = sb.remove_own_containers(sh, std::slice::from_ref(&name));
            return Err(e.context(format!("the tail of its log:\n{}", tail.trim_end())));
        }
    }
    Ok(name)
}

/// Removes every container of `scenario` that carries this sandbox's labels (found by label, so
/// also one whose start was interrupted before it was reported); returns their names.
pub fn remove_all(sh: &Shell, sb: &Sandbox, scenario: &str) -> Result<Vec<String>> {
    let found = sb.engine.objects_labelled(sh, Kind::Container, LABEL_SCENARIO, scenario)?;
    let ours: Vec<_> = found.into_iter().filter(|o| sb.owns(o)).collect();
    if !ours.is_empty() {
        // Throwaway: killed, not stopped. podman's `rm --force` first waits up to 10 s for a
        // process that ignores SIGTERM (`sleep` as PID 1 does), which is most of how long an
        // interrupted run took to end on podman (measured: 11 s). A container already stopped
        // makes `kill` fail; `rm` follows either way.
        let ids: Vec<&str> = ours.iter().map(|o| o.id.as_str()).collect();
        let _ = sb.engine.kill(sh, &ids);
    }
    sb.engine.remove_objects(sh, &ours)?;
    Ok(ours.into_iter().map(|o| o.name).collect())
}

fn run_spec(sh: &Shell, sb: &Sandbox, scenario: &str, decl: &Container) -> Result<RunSpec> {
    let taken: Vec<&str> = sb.spec.services.iter().flat_map(|s| &s.aliases).map(String::as_str).collect();
    if let Some(alias) = decl.aliases.iter().find(|a| taken.contains(&a.as_str())) {
        bail!("container `{}`: alias `{alias}` belongs to a service of the sandbox; choose another", decl.name);
    }
    let image = image_of(sh, sb, &decl.image).with_context(|| format!("container `{}`", decl.name))?;
    let dir = sb.dir.path.join("scenario-files").join(scenario).join(&decl.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut mounts = Vec::new();
    for (i, f) in decl.files.iter().enumerate() {
        let source = dir.join(format!("file-{i}"));
        std::fs::write(&source, &f.content).with_context(|| format!("writing {}", source.display()))?;
        mounts.push(Mount::Bind { source, target: f.path.clone(), readonly: true });
    }
    let mut labels = sb.labels(Some(&decl.name));
    labels.push((LABEL_SCENARIO.to_string(), scenario.to_string()));
    let mut aliases = vec![decl.name.clone()];
    aliases.extend(decl.aliases.iter().cloned());
    Ok(RunSpec {
        name: engine_name(sb, &decl.name),
        image,
        network: sb.network(),
        hostname: decl.name.clone(),
        aliases,
        labels,
        mounts,
        command: decl.command.clone(),
        ..RunSpec::default()
    })
}

/// The exact image the stack runs under that name (Debian or Nix alike): read from the running
/// service that uses it, so a scenario container never triggers a build or a pull.
fn image_of(sh: &Shell, sb: &Sandbox, image: &str) -> Result<String> {
    let Some(svc) = sb.spec.services.iter().find(|s| s.image == image) else {
        let mut known: Vec<&str> = sb.spec.services.iter().map(|s| s.image.as_str()).collect();
        known.dedup();
        bail!("image `{image}` is not one the sandbox runs (known: {})", known.join(", "));
    };
    let state = sb
        .engine
        .container(sh, &sb.container(&svc.name))?
        .with_context(|| format!("the sandbox's {} is not running: run `cargo xtask sandbox up`", svc.name))?;
    Ok(state.image)
}

/// `container` is the engine's name, `name` the scenario's.
fn wait_ready(sh: &Shell, sb: &Sandbox, container: &str, name: &str, ready: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        crate::signals::check()?;
        let out = sb.engine.exec(sh, container, &["sh", "-c", ready], &[], None)?;
        if out.ok() {
            return Ok(());
        }
        let running = sb.engine.container(sh, container)?.is_some_and(|c| c.running);
        if !running {
            bail!("container `{name}` exited before it was ready");
        }
        if started.elapsed() >= READY_TIMEOUT {
            bail!("container `{name}` not ready after {} s: {}", READY_TIMEOUT.as_secs(), out.combined().trim());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
