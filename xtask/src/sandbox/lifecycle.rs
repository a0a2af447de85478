//! `up` (everything in table order, each really ready before the next starts), `down`
//! (idempotent) and `destroy`.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::Shell;

use super::spec::{Service, Spec};
use super::state::{self, ClientMode};
use super::{config, pki, ports, readiness, Sandbox, Selector, UpOptions};
use super::{DEFAULT_REGISTRY_PORT, DEFAULT_SERVER_PORT, LABEL_CONFIG, LABEL_INSTANCE, LABEL_SERVICE};
use crate::engine::{ContainerState, Engine, EngineKind, RunSpec};
use crate::{images, ui, util};

/// `up`: everything in table order, each really ready before the next starts.
pub fn up(sh: &Shell, sel: &Selector, opts: &UpOptions) -> Result<Sandbox> {
    let spec = crate::sandbox::spec::load()?;
    let dir = state::Dir::for_name(&sel.name);
    let existing = dir.load()?;
    let engine = match (&existing, sel.engine) {
        (Some(s), Some(k)) if s.engine != k => bail!(
            "sandbox `{}` lives on {}, not {k}: drop --engine, pick another --name, or `destroy` it first",
            sel.name,
            s.engine
        ),
        (Some(s), _) => Engine::detect(sh, Some(s.engine))?,
        (None, k) => Engine::detect(sh, k)?,
    };
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
    let server_port = existing.as_ref().map(|s| s.server_port).or(opts.server_port).unwrap_or(DEFAULT_SERVER_PORT);
    let registry_port =
        existing.as_ref().map(|s| s.registry_port).or(opts.registry_port).unwrap_or(DEFAULT_REGISTRY_PORT);

    // The mode's own preconditions first: they say more than a port clash would.
    let client = opts.client.or(existing.as_ref().map(|s| s.client)).unwrap_or_default();
    if client == ClientMode::HostDaemon {
        check_host_daemon_mode(engine.kind, registry_port)?;
    }

    // Ports are checked before anything is created, unless our own running container holds them.
    let published =
        [(spec.published("server_port")?.0, server_port), (spec.published("registry_port")?.0, registry_port)];
    let ours: Vec<String> = published.iter().map(|(svc, _)| format!("{}-{}", sel.name, svc.name)).collect();
    let running: Vec<String> = engine.inspect(sh, &ours)?.into_iter().filter(|c| c.running).map(|c| c.name).collect();
    for ((svc, port), name) in published.iter().zip(&ours) {
        if !running.contains(name) {
            ports::check_free(*port, svc.network_name())?;
        }
    }
    if client == ClientMode::HostDaemon {
        ensure_hosts_alias(opts.yes)?;
    }

    let refs = images::ensure(sh, &engine, &spec, opts.images, &opts.image_opts).context("preparing images")?;

    let mut state = match existing {
        Some(s) => s,
        None => {
            dir.create(&sel.name, engine.kind, server_port, registry_port).context("creating the state directory")?
        }
    };
    if state.client != client {
        state.client = client;
        dir.save(&state)?;
    }
    let sb = Sandbox { name: sel.name.clone(), dir, state, engine, spec };
    match start_all(sh, &sb, &refs) {
        Ok(()) => Ok(sb),
        Err(err) => {
            ui::warn("up failed: removing what it started (trust data and keys are kept)");
            if let Err(e) = down(sh, &sb) {
                ui::warn(format!("cleaning up after the failure also failed: {e:#}"));
            }
            Err(err)
        }
    }
}

/// The guide's host-daemon mode: the host's dockerd must reach the registry as
/// sandboxregistry:5000, which only the hosts aliasing and the registry on port 5000 give it.
fn check_host_daemon_mode(engine: EngineKind, registry_port: u16) -> Result<()> {
    if engine != EngineKind::Docker {
        bail!(
            "--client host-daemon needs the docker engine: podman's docker-compatible API cannot sign a trusted push (measured: `no hashes specified for target`); use the default --client own-daemon on podman"
        );
    }
    if registry_port != DEFAULT_REGISTRY_PORT {
        bail!(
            "--client host-daemon needs the registry on 127.0.0.1:{DEFAULT_REGISTRY_PORT}: the host's daemon resolves sandboxregistry:5000 by name and port (this sandbox uses {registry_port})"
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

fn start_all(sh: &Shell, sb: &Sandbox, refs: &BTreeMap<String, String>) -> Result<()> {
    let secrets = sb.secrets()?;
    pki::ensure(&sb.dir.pki(), &sb.state.id, &sb.spec.pki_leaves()).context("preparing the sandbox PKI")?;
    pki::check_key_modes(&sb.dir.pki())?;
    util::make_private_dir(&sb.dir.config())?;
    for r in config::all(&secrets, &sb.spec)? {
        let mode = if r.secret { 0o600 } else { 0o644 };
        util::write_mode(&sb.dir.config().join(r.file), r.content.as_bytes(), mode)
            .with_context(|| format!("writing {}", r.file))?;
    }

    remove_retired(sh, sb)?;
    if !sb.engine.network_exists(sh, &sb.network())? {
        sb.engine.network_create(sh, &sb.network(), &sb.labels(None)).context("creating the sandbox network")?;
    }
    for svc in &sb.spec.services {
        for v in &svc.volumes {
            let name = sb.volume(&v.name);
            if !sb.engine.volume_exists(sh, &name)? {
                sb.engine
                    .volume_create(sh, &name, &sb.labels(Some(&svc.name)))
                    .with_context(|| format!("creating volume {name}"))?;
            }
        }
    }

    let specs = run_specs(sb, refs)?;
    for (svc, spec) in sb.spec.services.iter().zip(&specs) {
        let started = Instant::now();
        let hash = spec.labels.iter().find(|(k, _)| k == LABEL_CONFIG).map(|(_, v)| v);
        let name = sb.container(&svc.name);
        let current = sb.engine.container(sh, &name)?;
        let fresh = current.as_ref().is_some_and(|c| c.running && c.labels.get(LABEL_CONFIG) == hash);
        if !fresh {
            if current.is_some() {
                sb.engine.remove_containers(sh, std::slice::from_ref(&name))?;
            }
            sb.engine.run(sh, spec).with_context(|| format!("starting {}", svc.name))?;
        }
        readiness::wait_ready(sh, sb, svc)
            .with_context(|| format!("waiting for {}", svc.name))
            .map_err(|e| with_log_tail(sh, sb, &svc.name, e))?;
        let verb = if fresh { "Fresh" } else { "Ready" };
        ui::status(verb, format!("{:<14} {:>6.2} s  {}", svc.name, started.elapsed().as_secs_f64(), describe(sb, svc)));
    }
    Ok(())
}

/// Containers of this sandbox whose service the table no longer has (the client was
/// `notarysandbox` before it was `client`): removed so an existing sandbox upgrades cleanly. Their
/// named volumes stay; volume names do not depend on the service's name.
fn remove_retired(sh: &Shell, sb: &Sandbox) -> Result<()> {
    let names = sb.engine.containers_labelled(sh, &format!("{LABEL_INSTANCE}={}", sb.name))?;
    let retired = retired(&sb.engine.inspect(sh, &names)?, &sb.spec);
    sb.engine.remove_containers(sh, &retired).context("removing containers of retired services")?;
    for c in &retired {
        ui::status("Removed", format!("container {c} (its service is no longer in sandbox.json)"));
    }
    Ok(())
}

/// The containers among `found` whose service label names no service of `spec`.
fn retired(found: &[ContainerState], spec: &Spec) -> Vec<String> {
    found
        .iter()
        .filter(|c| c.labels.get(LABEL_SERVICE).is_some_and(|s| spec.service(s).is_err()))
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
pub fn down(sh: &Shell, sb: &Sandbox) -> Result<()> {
    down_by_label(sh, &sb.engine, &sb.name)
}

pub fn down_by_label(sh: &Shell, engine: &Engine, name: &str) -> Result<()> {
    let label = format!("{LABEL_INSTANCE}={name}");
    let containers = engine.containers_labelled(sh, &label)?;
    engine.remove_containers(sh, &containers).context("removing containers")?;
    for c in &containers {
        ui::status("Removed", format!("container {c}"));
    }
    for n in engine.networks_labelled(sh, &label)? {
        engine.network_rm(sh, &n).context("removing the network")?;
        ui::status("Removed", format!("network {n}"));
    }
    Ok(())
}

/// `destroy`: `down`, then the volumes and the state directory (trust data, keys, PKI).
pub fn destroy(sh: &Shell, sel: &Selector) -> Result<()> {
    let dir = state::Dir::for_name(&sel.name);
    let recorded = dir.load().ok().flatten().map(|s| s.engine);
    let kinds: Vec<EngineKind> = match (sel.engine, recorded) {
        (Some(k), _) | (None, Some(k)) => vec![k],
        (None, None) => vec![EngineKind::Docker, EngineKind::Podman],
    };
    for kind in kinds {
        let Ok(engine) = Engine::detect(sh, Some(kind)) else {
            continue;
        };
        down_by_label(sh, &engine, &sel.name)?;
        let label = format!("{LABEL_INSTANCE}={}", sel.name);
        let volumes = engine.volumes_labelled(sh, &label)?;
        engine.volume_rm(sh, &volumes)?;
        for v in volumes {
            ui::status("Removed", format!("volume {v}"));
        }
    }
    if dir.path.exists() {
        std::fs::remove_dir_all(&dir.path).with_context(|| format!("removing {}", dir.path.display()))?;
        ui::status("Removed", format!("state {}", dir.path.display()));
    }
    Ok(())
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
        }
    }

    #[test]
    fn only_containers_of_services_gone_from_the_table_are_retired() {
        let spec = crate::sandbox::spec::load().unwrap();
        let found = [
            container("ts-db", Some("db")),
            container("ts-client", Some("client")),
            container("ts-notarysandbox", Some("notarysandbox")),
            container("ts-unlabelled", None),
        ];
        assert_eq!(retired(&found, &spec), ["ts-notarysandbox"]);
    }
}
