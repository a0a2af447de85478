//! `up` (each service started once what it waits for is really ready, the rest in parallel: see
//! `waves`), `down` (idempotent) and `destroy`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::Shell;

use super::state::{self, ClientMode, RegistryMode};
use super::{config, look, ownership, pki, ports, readiness, repair, waves, Sandbox, Selector, UpOptions};
use super::{DEFAULT_REGISTRY_PORT, DEFAULT_SERVER_PORT, LABEL_CONFIG, LABEL_ID, LABEL_SERVICE};
use crate::engine::objects::{self, Kind, Object};
use crate::engine::{ContainerState, Engine, EngineKind, RunSpec};
use crate::table::{Service, Spec};
use crate::{images, ui, util};

/// `up`: every service started once what it waits for (`after`) is really ready.
///
/// Every check that can refuse (ports, ownership, secrets, PKI, configs) runs before the engine
/// is asked to change anything, and a failure afterwards removes only what this `up` created:
/// a healthy sandbox it found running is never torn down by a check that failed.
pub fn up(sh: &Shell, sel: &Selector, opts: &UpOptions) -> Result<Sandbox> {
    ports::check_choice(opts.server_port, opts.registry_port)?;
    let spec = crate::table::load()?;
    let dir = state::Dir::for_name(&sel.name)?;
    let existing = dir.load()?;
    let engine =
        Engine::for_sandbox_unasked(sh, &sel.name, sel.engine, existing.as_ref().map(|s| s.engine), "bring up")?;
    if let Some(s) = &existing {
        for (flag, asked, has) in [
            ("--server-port", opts.server_port, s.server_port),
            ("--registry-port", opts.registry_port, s.registry_port),
        ] {
            if asked.is_some_and(|p| p != has) {
                bail!("sandbox `{}` was created with {flag} {has}; `destroy` it to change ports", sel.name);
            }
        }
    }
    let registry_mode = registry_mode(&sel.name, existing.as_ref().map(|s| s.registry), opts.registry)?;
    let server_port = existing.as_ref().map(|s| s.server_port).or(opts.server_port).unwrap_or(DEFAULT_SERVER_PORT);
    let registry_port =
        existing.as_ref().map(|s| s.registry_port).or(opts.registry_port).unwrap_or(DEFAULT_REGISTRY_PORT);

    // The mode's own preconditions first: they say more than a port clash would.
    let client = opts.client.or(existing.as_ref().map(|s| s.client)).unwrap_or_default();
    if client == ClientMode::HostDaemon {
        check_host_daemon_mode(engine.kind)?;
        if registry_mode.tls {
            bail!(
                "--client host-daemon cannot use a sandbox made with --registry-tls: the host's dockerd would need the sandbox CA in its own certs.d; use the default --client own-daemon"
            );
        }
    }
    let client_cli = match &opts.client_cli {
        Some(asked) => asked.clone(),
        None => existing.as_ref().and_then(|s| s.client_cli.clone()),
    };
    let cli_plan = images::client_cli::plan(&spec, &images::lock::load()?, client_cli.as_ref())?;

    // Whatever carries this sandbox's names must be this state's: a second state directory (or a
    // lost HOME) must not recreate a running sandbox with new secrets on its volumes.
    let id = existing.as_ref().map(|s| s.id.as_str());
    let claim = ownership::Claim { name: &sel.name, id, dir: &dir.path };
    let look = match look::Look::take(&engine, &spec, &sel.name, id, opts) {
        // It answers: it found every image (and a warm `up` spares podman that call).
        Ok(look) if look.images.is_some() => look,
        // Before anything is built, and before another error: an engine that does not answer
        // finds no image, and nothing else either.
        other => {
            engine.answering(sh)?;
            other?
        }
    };
    let owned = ownership::check(look.survey.objects, &claim, false)?;
    let has_trust_data = owned.iter().any(|o| o.kind == Kind::Volume);

    // Ports are checked before anything is created, unless our own running container holds them.
    let published =
        [(spec.published("server_port")?.0, server_port), (spec.published("registry_port")?.0, registry_port)];
    let ours: Vec<String> = published.iter().map(|(svc, _)| super::name::object(&sel.name, &svc.name)).collect();
    // Between two runs (a crash being restarted) the engine still holds the port for it: podman's
    // restart holds it (measured: `taken by pid … (podman)` right after a SIGKILL).
    let running: Vec<&str> = look
        .survey
        .containers
        .iter()
        .filter(|c| ours.contains(&c.name) && (c.running || repair::between_runs(c)))
        .map(|c| c.name.as_str())
        .collect();
    for ((svc, port), name) in published.iter().zip(&ours) {
        if !running.contains(&name.as_str()) {
            ports::check_free(*port, svc.network_name())?;
        }
    }
    if let Some(s) = &existing {
        // An existing state's own files: refused here, before anything is touched.
        if !dir.secrets_file().exists() && !has_trust_data {
            // Created but never started (the old lazy generation): nothing depends on secrets yet.
            dir.generate_secrets()?;
        }
        prepare_files(&dir, s, &spec)?;
    }
    if client == ClientMode::HostDaemon {
        ensure_hosts_alias(opts.yes)?;
    }

    // Held already (the warm path), or built and loaded: that takes a while, during which the
    // engine's restart policies may change what runs, so the containers are read again after it.
    let (mut refs, containers) = match look.images {
        Some(refs) => (refs, look.survey.containers),
        None => {
            let refs = images::ensure(sh, &engine, &spec, opts.images, &opts.image_opts).context("preparing images")?;
            (refs, engine.inspect(sh, &ownership::container_names(&spec, &sel.name))?)
        }
    };
    images::client_cli::apply(sh, &engine, &spec, (opts.images, &opts.image_opts), &cli_plan, &mut refs)
        .with_context(|| format!("preparing the client CLI {}", cli_plan.describe()))?;

    let mut state = match existing {
        Some(s) => s,
        None => {
            let s = dir
                .create(&sel.name, engine.kind, (server_port, registry_port), registry_mode)
                .context("creating the state directory")?;
            prepare_files(&dir, &s, &spec)?;
            s
        }
    };
    if state.client != client || state.client_cli != client_cli {
        state.client = client;
        state.client_cli = client_cli;
        dir.save(&state)?;
    }
    let sb = Sandbox { name: sel.name.clone(), dir, state, engine, spec };
    let found = look::Found { objects: owned, containers, listed: look.listed };
    let mut created = Created::default();
    match start_all(sh, &sb, &refs, &found, &mut created) {
        Ok(()) => Ok(sb),
        Err(err) => {
            if !created.is_empty() {
                ui::warn(format!(
                    "up failed: removing what it created ({}); trust data, keys and whatever was already running are kept",
                    created.describe()
                ));
                if let Err(e) = created.remove(sh, &sb) {
                    ui::warn(format!("cleaning up after the failure also failed: {e:#}"));
                }
            }
            Err(err)
        }
    }
}

/// What one `up` created in the engine, so that a failure removes exactly that.
#[derive(Default)]
struct Created {
    network: bool,
    containers: Vec<String>,
}

impl Created {
    fn is_empty(&self) -> bool {
        !self.network && self.containers.is_empty()
    }

    fn describe(&self) -> String {
        let mut parts: Vec<String> = self.containers.iter().map(|c| format!("container {c}")).collect();
        if self.network {
            parts.push("the network".into());
        }
        parts.join(", ")
    }

    fn remove(&self, sh: &Shell, sb: &Sandbox) -> Result<()> {
        sb.remove_own_containers(sh, &self.containers).context("removing containers")?;
        for c in &self.containers {
            ui::status("Removed", format!("container {c}"));
        }
        if self.network {
            // Only ours, by id: never a network of the same name that someone else made.
            for n in sb.engine.objects_labelled(sh, Kind::Network, LABEL_ID, &sb.state.id)? {
                sb.engine.network_rm(sh, &n.id).context("removing the network")?;
                ui::status("Removed", format!("network {}", n.name));
            }
        }
        Ok(())
    }
}

/// The registry mode of a new sandbox is what `up` was asked for; an existing one keeps its own,
/// and asking for a mode it was not created with is an error (like the ports).
fn registry_mode(name: &str, existing: Option<RegistryMode>, asked: RegistryMode) -> Result<RegistryMode> {
    if asked.auth && !asked.tls && existing.is_none() {
        bail!("--registry-auth needs --registry-tls: a password must not cross the network in clear text");
    }
    match existing {
        None => Ok(asked),
        Some(has) if (asked.tls && !has.tls) || (asked.auth && !has.auth) => bail!(
            "sandbox `{name}` was created with {}; `destroy` it to change the registry's TLS or auth",
            has.flags()
        ),
        Some(has) => Ok(has),
    }
}

/// The state's files the containers mount: the PKI (leaves re-issued from the CA when missing,
/// damaged or foreign) and the rendered configs. Runs before the engine changes anything.
pub fn prepare_files(dir: &state::Dir, st: &state::State, spec: &Spec) -> Result<()> {
    let secrets = dir.secrets()?;
    pki::ensure_with_aliases(&dir.pki(), &st.id, &spec.pki_leaves(st.registry)).context("preparing the sandbox PKI")?;
    pki::check_key_modes(&dir.pki())?;
    util::make_private_dir(&dir.config())?;
    for r in config::all(&secrets, spec, st.registry)? {
        let mode = if r.secret { 0o600 } else { 0o644 };
        util::write_mode(&dir.config().join(&r.file), r.content.as_bytes(), mode)
            .with_context(|| format!("writing {}", r.file))?;
    }
    if st.registry.auth {
        let file = dir.config().join(config::HTPASSWD);
        let existing = std::fs::read_to_string(&file).ok();
        let line = config::htpasswd(existing.as_deref(), &secrets.registry_password)?;
        if existing.as_deref() != Some(line.as_str()) {
            util::write_private(&file, line.as_bytes())?;
        }
        // Host tools (and `migrate --from --docker-config`) log in with this, never with argv.
        let registry = spec.registry()?.network_name();
        let addresses: Vec<String> =
            ["127.0.0.1", "localhost", registry].iter().map(|h| format!("{h}:{}", st.registry_port)).collect();
        util::make_private_dir(&dir.docker_config_dir())?;
        let json = config::host_docker_config(&addresses, &secrets.registry_password);
        util::write_private(&dir.docker_config_dir().join("config.json"), json.as_bytes())?;
    }
    Ok(())
}

/// The guide's host-daemon mode: the host's dockerd reaches the registry as
/// `sandboxregistry:<registry port>` through the hosts aliasing (127.0.0.0/8 is an insecure
/// registry to dockerd by default, so any port works); only docker can sign through it.
fn check_host_daemon_mode(engine: EngineKind) -> Result<()> {
    if engine != EngineKind::Docker {
        bail!(
            "--client host-daemon needs the docker engine: podman's docker-compatible API cannot sign a trusted push (measured: `no hashes specified for target`); use the default --client own-daemon on podman"
        );
    }
    Ok(())
}

/// Host-daemon mode's one change outside the sandbox, made (with consent) only once everything
/// else checked out.
fn ensure_hosts_alias(yes: bool) -> Result<()> {
    let hosts_file = std::path::Path::new(crate::hosts_file::DEFAULT_HOSTS_FILE);
    let st = crate::hosts_file::status(hosts_file)?;
    if st.present && !st.stale && st.foreign.is_empty() {
        return Ok(());
    }
    if !crate::host::consent(yes) {
        bail!(
            "--client host-daemon needs notaryserver and sandboxregistry in {}: run `cargo xtask sandbox hosts add` first, or pass --yes to let `up` add them",
            hosts_file.display()
        );
    }
    crate::hosts_file::add(hosts_file, false).context("adding the hosts aliasing for host-daemon mode")?;
    ui::status("Aliased", format!("notaryserver, sandboxregistry -> 127.0.0.1 in {}", hosts_file.display()));
    Ok(())
}

fn start_all(
    sh: &Shell,
    sb: &Sandbox,
    refs: &BTreeMap<String, String>,
    found: &look::Found,
    created: &mut Created,
) -> Result<()> {
    remove_retired(sh, sb, found)?;
    // The look found it (and checked that it is ours), or it is created here: the lock keeps
    // this sandbox's other commands out meanwhile.
    if !found.has(Kind::Network, &sb.network()) {
        sb.engine.network_create(sh, &sb.network(), &sb.labels(None)).context("creating the sandbox network")?;
        created.network = true;
    }
    let volumes: Vec<(&str, String)> = sb
        .spec
        .services
        .iter()
        .flat_map(|svc| svc.volumes.iter().map(move |v| (svc.name.as_str(), sb.volume(&v.name))))
        .collect();
    for (service, name) in &volumes {
        if !found.has(Kind::Volume, name) {
            sb.engine
                .volume_create(sh, name, &sb.labels(Some(service)))
                .with_context(|| format!("creating volume {name}"))?;
        }
    }

    let specs = run_specs(sb, refs)?;
    // The look's inspect: nothing but these starts creates or removes them meanwhile, and one
    // that stopped since is a wedge the readiness wait finds and repairs.
    let found = &found.containers;
    let created = Mutex::new(created);
    // Held by the first start until the bridge is pinned (see `pin_bridge_address`).
    let bridge = Mutex::new(false);
    let timings = waves::run(&sb.spec, |svc| {
        let sh = &Shell::new()?;
        let spec = &specs[sb.spec.services.iter().position(|s| s.name == svc.name).expect("a table service")];
        let started = Instant::now();
        let hash = spec.labels.iter().find(|(k, _)| k == LABEL_CONFIG).map(|(_, v)| v);
        let name = sb.container(&svc.name);
        let current = found.iter().find(|c| c.name == name);
        // Exited or dead: no restart policy brings it back, so it is recreated (and said so).
        let wedge = current.and_then(|c| repair::stopped(&svc.name, c));
        let fresh = wedge.is_none() && current.is_some_and(|c| c.labels.get(LABEL_CONFIG) == hash);
        if let Some(w) = &wedge {
            repair::announce(sh, sb, w);
        }
        let start = || -> Result<()> {
            if !fresh {
                recreate(sh, sb, spec, current.is_some(), &created)?;
            }
            Ok(())
        };
        {
            let mut pinned = bridge.lock().expect("not poisoned");
            if *pinned {
                drop(pinned);
                start()?;
            } else {
                start()?;
                // The first container brought the bridge up: pin it before the others join.
                sb.engine.pin_bridge_address(sh, &sb.network())?;
                *pinned = true;
            }
        }
        let mut ready = readiness::wait_ready(sh, sb, svc);
        let mut kept = fresh;
        if let (true, Some(w)) = (fresh, ready.as_ref().err().and_then(repair::wedge_of)) {
            // Found running but wedged (a restart loop): recreated once, then waited for again.
            repair::announce(sh, sb, w);
            recreate(sh, sb, spec, true, &created)?;
            kept = false;
            ready = readiness::wait_ready(sh, sb, svc);
        }
        ready.with_context(|| format!("waiting for {}", svc.name)).map_err(|e| with_log_tail(sh, sb, &svc.name, e))?;
        let verb = if kept { "Fresh" } else { "Ready" };
        ui::status(verb, format!("{:<14} {:>6.2} s  {}", svc.name, started.elapsed().as_secs_f64(), describe(sb, svc)));
        Ok(())
    })?;
    report_waves(sb, &timings);
    Ok(())
}

/// Removes the service's container if there is one (only if it is this sandbox's), and starts it
/// anew from its run spec: the named volumes it mounts and the state directory are not touched.
fn recreate(sh: &Shell, sb: &Sandbox, spec: &RunSpec, exists: bool, created: &Mutex<&mut Created>) -> Result<()> {
    if exists {
        sb.remove_own_containers(sh, std::slice::from_ref(&spec.name))?;
    }
    {
        let mut created = created.lock().expect("not poisoned");
        if !created.containers.contains(&spec.name) {
            created.containers.push(spec.name.clone());
        }
    }
    sb.engine.run(sh, spec).with_context(|| format!("starting {}", spec.name))?;
    Ok(())
}

/// The whole start in one line: its time and the chain of services that decided it.
fn report_waves(sb: &Sandbox, timings: &[waves::Timing]) {
    let total = timings.iter().map(|t| t.ready).max().unwrap_or_default();
    let path = waves::critical_path(&sb.spec, timings);
    ui::status(
        "Started",
        format!(
            "{} services in {:.2} s; critical path {}",
            timings.len(),
            total.as_secs_f64(),
            waves::describe_path(&path)
        ),
    );
    crate::timing::record("services", total.as_secs_f64());
}

/// Containers of this sandbox whose service the table no longer has (the client was
/// `notarysandbox` before it was `client`): removed so an existing sandbox upgrades cleanly. Their
/// named volumes stay; volume names do not depend on the service's name.
fn remove_retired(sh: &Shell, sb: &Sandbox, found: &look::Found) -> Result<()> {
    // The look read the containers of the table's names (never retired: their service is in the
    // table, or a helper); only the other ids labelled with this state's id need reading.
    let others = found.unread();
    // Only this state's containers, by their exact id and state labels.
    let ours = objects::exactly(sb.engine.objects(sh, Kind::Container, &others)?, LABEL_ID, &sb.state.id);
    let names: Vec<String> = ours.into_iter().filter(|o| sb.owns(o)).map(|o| o.name).collect();
    let retired = retired(&sb.engine.inspect(sh, &names)?, &sb.spec);
    sb.remove_own_containers(sh, &retired).context("removing containers of retired services")?;
    for c in &retired {
        ui::status("Removed", format!("container {c} (its service is no longer in sandbox.json)"));
    }
    Ok(())
}

/// The containers among `found` whose service label names no service of `spec` (an on-demand
/// helper, such as the signers after `migrate`, is not one: it is kept until `down`).
fn retired(found: &[ContainerState], spec: &Spec) -> Vec<String> {
    let helpers = spec.helper_names();
    found
        .iter()
        .filter(|c| {
            c.labels.get(LABEL_SERVICE).is_some_and(|s| spec.service(s).is_err() && !helpers.contains(&s.as_str()))
        })
        .map(|c| c.name.clone())
        .collect()
}

/// The containers `up` starts, in start order, with their config-hash label: what `up` runs and
/// what `bench` replays with the plain engine CLI as its baseline.
pub fn run_specs(sb: &Sandbox, refs: &BTreeMap<String, String>) -> Result<Vec<RunSpec>> {
    let secrets = sb.secrets()?;
    let fingerprint = crate::util::hex(&Sha256::digest(secrets.values().join("\0").as_bytes()));
    sb.spec
        .services
        .iter()
        .map(|svc| {
            let image = refs.get(&svc.image).with_context(|| format!("no image for {}", svc.image))?;
            let mut spec = sb.run_spec(svc, image, &secrets)?;
            let hash = sb.config_hash(&spec, &fingerprint)?;
            spec.labels.push((LABEL_CONFIG.to_string(), hash));
            Ok(spec)
        })
        .collect()
}

fn describe(sb: &Sandbox, svc: &Service) -> String {
    let published: Vec<String> = svc
        .ports
        .iter()
        .filter_map(|p| Some(format!("127.0.0.1:{}", sb.published_port(p.publish.as_deref()?)?)))
        .collect();
    let mut s = svc.aliases.join(", ");
    if !published.is_empty() {
        s.push_str(&format!(" (published on {})", published.join(", ")));
    }
    s
}

fn with_log_tail(sh: &Shell, sb: &Sandbox, service: &str, err: anyhow::Error) -> anyhow::Error {
    let tail = sb.engine.logs_tail(sh, &sb.container(service), 15).unwrap_or_default();
    if tail.trim().is_empty() {
        return err;
    }
    let indented: Vec<String> = tail.lines().map(|l| format!("    {l}")).collect();
    err.context(format!("{service} failed; the tail of its log:\n{}", indented.join("\n")))
}

/// `down`: containers and network go; volumes, state, PKI and keys stay. Safe to repeat.
/// Only this state's objects, each checked by its exact labels, are removed.
pub fn down(sh: &Shell, sb: &Sandbox) -> Result<()> {
    // Volumes stay: only the containers and the network are looked up.
    let found = ownership::survey_kinds(sh, &sb.engine, &sb.spec, &sb.name, false, &[Kind::Container, Kind::Network])?;
    super::down::run(sh, sb, &ownership::check(found, &sb.claim(), false)?)
}

fn remove(sh: &Shell, engine: &Engine, objects: &[Object], volumes: bool) -> Result<()> {
    for kind in [Kind::Container, Kind::Network, Kind::Volume] {
        if kind == Kind::Volume && !volumes {
            continue;
        }
        let these: Vec<Object> = objects.iter().filter(|o| o.kind == kind).cloned().collect();
        engine.remove_objects(sh, &these).with_context(|| format!("removing {}s", kind.as_str()))?;
        for o in these {
            ui::status("Removed", format!("{} {}", kind.as_str(), o.name));
        }
    }
    Ok(())
}

/// For a command that found no state here: refuses if any engine that answers holds objects of
/// this name (they belong to another state directory, which the error names).
pub fn refuse_foreign_objects(sh: &Shell, sel: &Selector) -> Result<()> {
    let dir = state::Dir::for_name(&sel.name)?;
    let spec = crate::table::load()?;
    let claim = ownership::Claim { name: &sel.name, id: None, dir: &dir.path };
    let kinds = EngineKind::candidates(sel.engine, None);
    for kind in kinds {
        if let Ok(engine) = Engine::detect(sh, Some(kind)) {
            ownership::check(ownership::survey(sh, &engine, &spec, &sel.name, true)?, &claim, false)?;
        }
    }
    Ok(())
}

/// What `destroy` found to remove.
#[derive(Debug, PartialEq, Eq)]
pub enum Destroyed {
    /// Objects, the state directory, or both, were removed.
    Something,
    /// No state directory and no object of this name on any engine that answers.
    Nothing,
}

/// `destroy`: `down`, then the volumes and the state directory (trust data, keys, PKI).
///
/// Everything is checked before anything is removed, and it refuses, removing nothing, when:
/// `--engine` (or `TRUST_SANDBOX_ENGINE`) names another engine than the one the state records (the
/// keys would go while the stack kept running on the other one); the sandbox's engine does not
/// answer; `state.json` cannot be read (an unreadable state is not an absent one); an object of
/// this name belongs to another state directory, or to one that cannot be read; the directory is
/// not a sandbox state at all. A corrupt `state.json` is this sandbox's all the same: destroy is
/// how to start over, so then every engine that answers is searched.
pub fn destroy(sh: &Shell, sel: &Selector) -> Result<Destroyed> {
    let dir = state::Dir::for_name(&sel.name)?;
    let kept = || format!("nothing was removed (the keys and state in {} are kept)", dir.path.display());
    let state = match dir.load() {
        Ok(s) => s,
        Err(e) if e.downcast_ref::<state::Corrupt>().is_some() => None,
        Err(e) => return Err(e.context(kept())),
    };
    let recorded = state.as_ref().map(|s| s.engine);
    EngineKind::resolve(&sel.name, sel.engine, recorded, "destroy")?;
    let spec = crate::table::load()?;
    // Without a state every engine is searched, `--engine` or not: objects of this name on the
    // other engine are refused below, never taken for "nothing to destroy".
    let kinds = EngineKind::candidates(None, recorded);
    let claim = ownership::Claim { name: &sel.name, id: state.as_ref().map(|s| s.id.as_str()), dir: &dir.path };
    // Everything is checked on every engine before anything is removed anywhere.
    let mut plan = Vec::new();
    for kind in &kinds {
        let required = state.is_some() || sel.engine == Some(*kind);
        let engine = match Engine::detect(sh, Some(*kind)) {
            Ok(e) => e,
            Err(e) if required => {
                return Err(e.context(format!(
                    "destroy needs {kind} to remove the sandbox's containers, network and volumes: {}. Start {kind} and run destroy again",
                    kept()
                )));
            }
            // No state here and no engine asked for: nothing of ours can be on an engine that is absent.
            Err(_) => continue,
        };
        let found = ownership::check(ownership::survey(sh, &engine, &spec, &sel.name, true)?, &claim, true)?;
        if let Some(asked) = sel.engine.filter(|k| k != kind && !found.is_empty()) {
            // No state to say where it lives; its objects say it.
            EngineKind::resolve(&sel.name, Some(asked), Some(*kind), "destroy")?;
        }
        plan.push((engine, found));
    }
    let state_dir = dir.path.try_exists().with_context(|| format!("cannot read {}: {}", dir.path.display(), kept()))?;
    if !state_dir && plan.iter().all(|(_, objects)| objects.is_empty()) {
        return Ok(Destroyed::Nothing);
    }
    for (engine, objects) in &plan {
        remove(sh, engine, objects, true)?;
    }
    if state_dir {
        std::fs::remove_dir_all(&dir.path).with_context(|| format!("removing {}", dir.path.display()))?;
        ui::status("Removed", format!("state {}", dir.path.display()));
    }
    Ok(Destroyed::Something)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, service: Option<&str>) -> ContainerState {
        ContainerState {
            name: name.into(),
            id: String::new(),
            image: String::new(),
            status: "running".into(),
            running: true,
            started_at: String::new(),
            labels: service.map(|s| (LABEL_SERVICE.to_string(), s.to_string())).into_iter().collect(),
            pid: 1,
            ..Default::default()
        }
    }

    #[test]
    fn only_containers_of_services_gone_from_the_table_are_retired() {
        let spec = crate::table::load().unwrap();
        let found = [
            container("ts-db", Some("db")),
            container("ts-client", Some("client")),
            container("ts-notarysandbox", Some("notarysandbox")),
            container("ts-unlabelled", None),
            container("ts-signers", Some("signers")),
            container("ts-consumer", Some("consumer")),
        ];
        assert_eq!(spec.helper_names(), ["consumer", "signers"]);
        assert_eq!(retired(&found, &spec), ["ts-notarysandbox"]);
    }
}
