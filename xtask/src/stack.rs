//! The running sandbox: bring it up in table order and wait for each part to be really ready,
//! read its state back from `inspect`, take it down (idempotent), destroy it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use xshell::Shell;

use crate::engine::{Engine, EngineKind, EnvVar, Mount, Output, RunSpec};
use crate::images::{self, SourceKind};
use crate::spec::{Readiness, Service, Spec};
use crate::state::{self, ClientMode, Secrets, State};
use crate::{db, pki, ports, probe, render, ui};

pub const LABEL_INSTANCE: &str = "io.trust-sandbox.instance";
pub const LABEL_ID: &str = "io.trust-sandbox.id";
pub const LABEL_SERVICE: &str = "io.trust-sandbox.service";
pub const LABEL_CONFIG: &str = "io.trust-sandbox.config-hash";
pub const DEFAULT_NAME: &str = "trust-sandbox";
pub const DEFAULT_SERVER_PORT: u16 = 4443;
pub const DEFAULT_REGISTRY_PORT: u16 = 5000;
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const HOST_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Marks a probe failure that waiting cannot fix (the container exited).
#[derive(Debug)]
struct Fatal(String);
impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Fatal {}

pub struct Sandbox {
    pub name: String,
    pub dir: state::Dir,
    pub state: State,
    pub engine: Engine,
    pub spec: Spec,
}

#[derive(Debug, Clone)]
pub struct Selector {
    pub name: String,
    pub engine: Option<EngineKind>,
}

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub images: SourceKind,
    pub image_opts: images::Options,
    pub server_port: Option<u16>,
    pub registry_port: Option<u16>,
    pub client: Option<ClientMode>,
    pub yes: bool,
}

impl Sandbox {
    /// The existing sandbox named by `sel`, or None when it was never created (or destroyed).
    pub fn open(sh: &Shell, sel: &Selector) -> Result<Option<Sandbox>> {
        let dir = state::Dir::for_name(&sel.name);
        let Some(state) = dir.load()? else {
            return Ok(None);
        };
        if let Some(kind) = sel.engine {
            if kind != state.engine {
                bail!(
                    "sandbox `{}` lives on {}, not {kind}: drop --engine, pick another --name, or `destroy` it first",
                    sel.name,
                    state.engine
                );
            }
        }
        let engine = Engine::detect(sh, Some(state.engine))?;
        Ok(Some(Sandbox { name: sel.name.clone(), dir, state, engine, spec: crate::spec::load()? }))
    }

    pub fn open_required(sh: &Shell, sel: &Selector) -> Result<Sandbox> {
        Sandbox::open(sh, sel)?.with_context(|| {
            format!(
                "no sandbox named `{}` (state in {}): run `cargo xtask sandbox up` first",
                sel.name,
                state::root_dir().display()
            )
        })
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}", self.name)
    }

    pub fn network(&self) -> String {
        self.name.clone()
    }

    fn volume(&self, v: &str) -> String {
        format!("{}-{v}", self.name)
    }

    fn labels(&self, service: Option<&str>) -> Vec<(String, String)> {
        let mut l =
            vec![(LABEL_INSTANCE.to_string(), self.name.clone()), (LABEL_ID.to_string(), self.state.id.clone())];
        if let Some(s) = service {
            l.push((LABEL_SERVICE.to_string(), s.to_string()));
        }
        l
    }

    pub fn published_port(&self, which: &str) -> Option<u16> {
        match which {
            "server_port" => Some(self.state.server_port),
            "registry_port" => Some(self.state.registry_port),
            _ => None,
        }
    }

    pub fn secrets(&self) -> Result<Secrets> {
        self.dir.secrets()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.pki().join(pki::CA_CERT)
    }

    fn run_spec(&self, svc: &Service, image: &str, secrets: &Secrets) -> Result<RunSpec> {
        let mut mounts: Vec<Mount> = svc
            .volumes
            .iter()
            .map(|v| Mount::Volume { name: self.volume(&v.name), target: v.target.clone() })
            .collect();
        for f in &svc.files {
            let source = self.dir.path.join(&f.from);
            if !source.exists() {
                bail!("{} is missing from the state directory (needed by {})", source.display(), svc.name);
            }
            mounts.push(Mount::Bind { source, target: f.to.clone(), readonly: true });
        }
        let mut env: Vec<EnvVar> =
            svc.env.iter().map(|(k, v)| EnvVar { name: k.clone(), value: v.clone(), secret: false }).collect();
        let secret_json = serde_json::to_value(secrets)?;
        for (k, field) in &svc.secret_env {
            let value =
                secret_json[field].as_str().with_context(|| format!("unknown secret `{field}` in sandbox.json"))?;
            env.push(EnvVar { name: k.clone(), value: value.to_string(), secret: true });
        }
        let publish = svc
            .ports
            .iter()
            .filter_map(|p| {
                let host = self.published_port(p.publish.as_deref()?)?;
                Some((ports::LOOPBACK.to_string(), host, p.container))
            })
            .collect();
        let mut command = svc.command.clone();
        if svc.nested_engine && self.state.client == ClientMode::HostDaemon {
            // The host's dockerd does the pulling and pushing; the container only holds the CLIs.
            mounts.push(Mount::Bind {
                source: HOST_DOCKER_SOCKET.into(),
                target: HOST_DOCKER_SOCKET.into(),
                readonly: false,
            });
            command = vec!["sleep".into(), "infinity".into()];
        }
        let (cap_add, security_opt) = if svc.nested_engine && self.state.client == ClientMode::OwnDaemon {
            (vec!["SYS_ADMIN".to_string()], vec!["seccomp=unconfined".to_string()])
        } else {
            (vec![], vec![])
        };
        Ok(RunSpec {
            name: self.container(&svc.name),
            image: image.to_string(),
            network: self.network(),
            hostname: svc.aliases.first().cloned().unwrap_or_else(|| svc.name.clone()),
            aliases: svc.aliases.clone(),
            labels: self.labels(Some(&svc.name)),
            env,
            mounts,
            publish,
            cap_add,
            security_opt,
            command,
        })
    }

    /// A hash of everything that defines the container, so `up` recreates exactly what changed.
    fn config_hash(&self, spec: &RunSpec, secrets_fingerprint: &str) -> Result<String> {
        let mut h = Sha256::new();
        h.update(crate::engine::run_args(spec).join("\0").as_bytes());
        h.update(secrets_fingerprint.as_bytes());
        for m in &spec.mounts {
            // Files' contents define the service; a socket (host-daemon mode) only its path, already hashed.
            if let Mount::Bind { source, .. } = m {
                if source.is_file() {
                    h.update(std::fs::read(source).with_context(|| format!("reading {}", source.display()))?);
                }
            }
        }
        Ok(crate::lock::hex(&h.finalize())[..16].to_string())
    }

    pub fn exec(
        &self,
        sh: &Shell,
        service: &str,
        argv: &[&str],
        env: &[(String, String)],
        stdin: Option<&[u8]>,
    ) -> Result<Output> {
        self.engine.exec(sh, &self.container(service), argv, env, stdin)
    }

    /// SQL as root over the DB's unix socket (MariaDB's `mariadb` or MySQL's `mysql` client).
    pub fn sql(&self, sh: &Shell, sql: &str) -> Result<Output> {
        let script = "exec \"$(command -v mariadb || command -v mysql)\" --protocol=socket -S /run/mysqld/mysqld.sock -uroot --batch --skip-column-names";
        self.exec(sh, "db", &["sh", "-c", script], &[], Some(sql.as_bytes()))
    }
}

/// `up`: everything in table order, each really ready before the next starts.
pub fn up(sh: &Shell, sel: &Selector, opts: &UpOptions) -> Result<Sandbox> {
    let spec = crate::spec::load()?;
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
    let running: Vec<String> = engine
        .inspect(sh, &[format!("{}-notaryserver", sel.name), format!("{}-registry", sel.name)])?
        .into_iter()
        .filter(|c| c.running)
        .map(|c| c.name)
        .collect();
    if !running.contains(&format!("{}-notaryserver", sel.name)) {
        ports::check_free(server_port, "notaryserver")?;
    }
    if !running.contains(&format!("{}-registry", sel.name)) {
        ports::check_free(registry_port, "sandboxregistry")?;
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
    let hosts_file = std::path::Path::new(crate::hosts::DEFAULT_HOSTS_FILE);
    let st = crate::hosts::status(hosts_file)?;
    if st.present && !st.stale && st.foreign.is_empty() {
        return Ok(());
    }
    if !crate::setup::consent(yes) {
        bail!(
            "--client host-daemon needs notaryserver and sandboxregistry in {}: run `cargo xtask sandbox hosts add` first, or pass --yes to let `up` add them",
            hosts_file.display()
        );
    }
    crate::hosts::add(hosts_file, false).context("adding the hosts aliasing for host-daemon mode")?;
    ui::status("Aliased", format!("notaryserver, sandboxregistry -> 127.0.0.1 in {}", hosts_file.display()));
    Ok(())
}

fn start_all(sh: &Shell, sb: &Sandbox, refs: &std::collections::BTreeMap<String, String>) -> Result<()> {
    let secrets = sb.secrets()?;
    let names: Vec<&'static str> = vec!["notaryserver", "notarysigner"];
    pki::ensure(&sb.dir.pki(), &sb.state.id, &names).context("preparing the sandbox PKI")?;
    pki::check_key_modes(&sb.dir.pki())?;
    state::make_private_dir(&sb.dir.config())?;
    for r in render::all(&secrets) {
        let mode = if r.secret { 0o600 } else { 0o644 };
        state::write_mode(&sb.dir.config().join(r.file), r.content.as_bytes(), mode)
            .with_context(|| format!("writing {}", r.file))?;
    }

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
        wait_ready(sh, sb, svc)
            .with_context(|| format!("waiting for {}", svc.name))
            .map_err(|e| with_log_tail(sh, sb, &svc.name, e))?;
        let verb = if fresh { "Fresh" } else { "Ready" };
        ui::status(verb, format!("{:<14} {:>6.2} s  {}", svc.name, started.elapsed().as_secs_f64(), describe(sb, svc)));
    }
    Ok(())
}

/// The containers `up` starts, in start order, with their config-hash label: what `up` runs and
/// what `bench` replays with the plain engine CLI as its baseline.
pub fn run_specs(sb: &Sandbox, refs: &std::collections::BTreeMap<String, String>) -> Result<Vec<RunSpec>> {
    let secrets = sb.secrets()?;
    let fingerprint = crate::lock::hex(&Sha256::digest(secrets.values().join("\0").as_bytes()));
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

fn alive(sh: &Shell, sb: &Sandbox, service: &str) -> Result<()> {
    match sb.engine.container(sh, &sb.container(service))? {
        Some(c) if c.running => Ok(()),
        Some(c) => Err(Fatal(format!("{service} is {} (not running)", c.status)).into()),
        None => Err(Fatal(format!("{service} container is gone")).into()),
    }
}

fn poll_service<T>(sh: &Shell, sb: &Sandbox, svc: &str, what: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut fatal: Option<String> = None;
    let r = probe::poll(what, READY_TIMEOUT, || {
        if fatal.is_some() {
            return Ok(None);
        }
        match f() {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                if let Err(dead) = alive(sh, sb, svc) {
                    if let Some(f) = dead.downcast_ref::<Fatal>() {
                        fatal = Some(format!("{f}; last probe error: {e:#}"));
                        return Ok(None);
                    }
                }
                Err(e)
            }
        }
    })?;
    match (r, fatal) {
        (Some(v), _) => Ok(v),
        (None, Some(f)) => bail!("{f}"),
        (None, None) => bail!("{what}: probe ended without a result"),
    }
}

/// One probe per readiness kind; each proves the service does its job, not just that it runs.
pub fn wait_ready(sh: &Shell, sb: &Sandbox, svc: &Service) -> Result<()> {
    match &svc.readiness {
        Readiness::DbSchema => {
            // One exec does the readiness probe, the idempotent bootstrap and the reading of what
            // was applied: on podman every exec costs a few hundred milliseconds.
            let sql = schema_state_sql(&sb.secrets()?);
            let stdout = poll_service(sh, sb, &svc.name, "database", || {
                let out = sb.sql(sh, &sql)?;
                if !out.ok() {
                    bail!("{}", out.combined().trim());
                }
                Ok(out.stdout)
            })?;
            apply_migrations(sh, sb, &stdout)
        }
        // The other probes answer the same question for `status`; here they are retried.
        _ => poll_service(sh, sb, &svc.name, &svc.name, || probe_once(sh, sb, svc)),
    }
}

fn published_for(sb: &Sandbox, svc: &Service, container_port: u16) -> Result<u16> {
    svc.ports
        .iter()
        .find(|p| p.container == container_port)
        .and_then(|p| sb.published_port(p.publish.as_deref()?))
        .with_context(|| format!("{} does not publish port {container_port}", svc.name))
}

const SCHEMA_MARKER: &str = "-- applied in ";

/// A database and the (version, checksum) of each migration it has applied.
type AppliedIn = (&'static str, Vec<(u32, String)>);

/// Bootstrap (users and databases converge every time) followed by what each database has applied,
/// each list behind a marker line naming its database.
fn schema_state_sql(secrets: &Secrets) -> String {
    let mut sql = db::bootstrap_sql(
        &db::DB_NAMES,
        render::SERVER_DB_USER,
        &secrets.db_server_password,
        render::SIGNER_DB_USER,
        &secrets.db_signer_password,
    );
    for database in [db::SERVER_DB, db::SIGNER_DB] {
        sql.push_str(&format!("SELECT '{SCHEMA_MARKER}{database}';\n"));
        sql.push_str(&db::applied_query(database));
    }
    sql
}

/// Splits the output of [`schema_state_sql`] into each database's applied migrations.
fn split_applied(stdout: &str) -> Result<Vec<AppliedIn>> {
    let mut out = Vec::new();
    for database in [db::SERVER_DB, db::SIGNER_DB] {
        let marker = format!("{SCHEMA_MARKER}{database}");
        let start = stdout
            .lines()
            .position(|l| l.trim() == marker)
            .with_context(|| format!("the database did not report what {database} has applied"))?;
        let section: Vec<&str> = stdout.lines().skip(start + 1).take_while(|l| !l.starts_with(SCHEMA_MARKER)).collect();
        out.push((database, db::parse_applied(&section.join("\n"))?));
    }
    Ok(out)
}

/// Migrations apply once, in order, and are tracked.
fn apply_migrations(sh: &Shell, sb: &Sandbox, schema_state: &str) -> Result<()> {
    let all = db::migrations();
    let mut applied_now = 0;
    for (database, applied) in split_applied(schema_state)? {
        for m in db::plan(&all, &applied, database)? {
            let out = sb.sql(sh, &db::apply_sql(m))?;
            if !out.ok() {
                bail!("migration {} failed: {}", m.label(), out.combined().trim());
            }
            applied_now += 1;
            ui::status("Migrated", m.label());
        }
    }
    if applied_now == 0 {
        ui::info("Schema", "up to date");
    }
    Ok(())
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

#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub container: String,
    pub state: String,
    pub ready: bool,
    pub detail: String,
    pub aliases: Vec<String>,
    pub published: Vec<String>,
    pub image: String,
    pub started_at: String,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub name: String,
    pub engine: EngineKind,
    pub id: String,
    pub state_dir: String,
    pub network: bool,
    pub services: Vec<ServiceStatus>,
}

/// One quick probe per service (no waiting): what runs, and whether it answers.
pub fn status(sh: &Shell, sb: &Sandbox) -> Result<Status> {
    let names: Vec<String> = sb.spec.services.iter().map(|s| sb.container(&s.name)).collect();
    let found = sb.engine.inspect(sh, &names)?;
    let mut services = Vec::new();
    for svc in &sb.spec.services {
        let c = found.iter().find(|c| c.name == sb.container(&svc.name));
        let (state, ready, detail) = match c {
            None => ("missing".to_string(), false, String::new()),
            Some(c) if !c.running => (c.status.clone(), false, String::new()),
            Some(c) => match probe_once(sh, sb, svc) {
                Ok(()) => (c.status.clone(), true, String::new()),
                Err(e) => (c.status.clone(), false, format!("{e:#}")),
            },
        };
        services.push(ServiceStatus {
            service: svc.name.clone(),
            container: sb.container(&svc.name),
            state,
            ready,
            detail,
            aliases: svc.aliases.clone(),
            published: svc
                .ports
                .iter()
                .filter_map(|p| {
                    Some(format!("127.0.0.1:{}->{}", sb.published_port(p.publish.as_deref()?)?, p.container))
                })
                .collect(),
            image: c.map(|c| c.image.clone()).unwrap_or_default(),
            started_at: c.map(|c| c.started_at.clone()).unwrap_or_default(),
        });
    }
    Ok(Status {
        name: sb.name.clone(),
        engine: sb.engine.kind,
        id: sb.state.id.clone(),
        state_dir: sb.dir.path.display().to_string(),
        network: sb.engine.network_exists(sh, &sb.network())?,
        services,
    })
}

/// One readiness check without waiting (and without applying anything).
pub fn probe_once(sh: &Shell, sb: &Sandbox, svc: &Service) -> Result<()> {
    match &svc.readiness {
        Readiness::DbSchema => {
            let out = sb.sql(sh, &format!("SELECT COUNT(*) FROM {}.{};", db::SERVER_DB, db::TRACKING_TABLE))?;
            if !out.ok() {
                bail!("{}", out.combined().trim());
            }
            Ok(())
        }
        Readiness::Tcp { port } => {
            let out =
                sb.exec(sh, &svc.name, &["bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")], &[], None)?;
            if !out.ok() {
                bail!("tcp/{port}: {}", out.combined().trim());
            }
            Ok(())
        }
        Readiness::Https { port, path } => {
            let url = format!("https://127.0.0.1:{}{path}", published_for(sb, svc, *port)?);
            probe::expect_status(&url, probe::https_get(&url, &sb.ca_file())?, 200).map(|_| ())
        }
        Readiness::Http { port, path } => {
            let url = format!("http://127.0.0.1:{}{path}", published_for(sb, svc, *port)?);
            probe::expect_status(&url, probe::http_get(&url)?, 200).map(|_| ())
        }
        Readiness::ClientDaemon => {
            let out = sb.exec(sh, &svc.name, &["docker", "info", "--format", "{{.ServerVersion}}"], &[], None)?;
            if !out.ok() {
                bail!("{}", out.combined().trim());
            }
            Ok(())
        }
    }
}

/// Is every service running and answering? (For `play`, which brings the sandbox up only if not.)
pub fn all_ready(sh: &Shell, sb: &Sandbox) -> bool {
    status(sh, sb).map(|s| s.services.iter().all(|x| x.ready)).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_lists_are_split_per_database() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let out = format!("-- applied in notaryserver\n1\t{a}\n2\t{b}\n-- applied in notarysigner\n1\t{c}\n");
        let split = split_applied(&out).unwrap();
        assert_eq!(split[0], ("notaryserver", vec![(1, a.clone()), (2, b)]));
        assert_eq!(split[1], ("notarysigner", vec![(1, c)]));
        let empty = split_applied("-- applied in notaryserver\n-- applied in notarysigner\n").unwrap();
        assert!(empty.iter().all(|(_, applied)| applied.is_empty()));
        assert!(split_applied(&format!("1\t{a}\n")).is_err(), "no markers: the bootstrap did not run to the end");
    }

    #[test]
    fn schema_state_sql_bootstraps_then_reads_both_databases() {
        let s = crate::state::Secrets {
            db_server_password: "a".into(),
            db_signer_password: "b".into(),
            signer_alias_passphrase: "c".into(),
            trust_root_passphrase: "d".into(),
            trust_repository_passphrase: "e".into(),
        };
        let sql = schema_state_sql(&s);
        let server = sql.find("-- applied in notaryserver").unwrap();
        assert!(sql.find("CREATE USER").unwrap() < server);
        assert!(server < sql.find("-- applied in notarysigner").unwrap());
    }
}
