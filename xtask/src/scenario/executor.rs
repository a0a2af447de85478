//! The scenario runner wired to a live sandbox: `SandboxExecutor` runs each step's command in its
//! container (or its action on the engine) and starts and removes the scenario's own containers.
//! How a run of several scenarios starts, ends (signals included) and reports is `crate::session`'s.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{containers, Action, Executor, Output, Scenario, ServiceName, Target};
use crate::sandbox::readiness;
use crate::sandbox::state::Secrets;
use crate::sandbox::Sandbox;
use crate::step::{self, clock, mask::Masker};
use crate::table::Spec;
use crate::trust::identity::IDENTITIES_DIR;
use crate::util;

/// A `db_snapshot`: both notary databases, dumped over the DB's socket.
pub const DB_DUMP: &str = "exec \"$(command -v mariadb-dump || command -v mysqldump)\" --protocol=socket -S /run/mysqld/mysqld.sock -uroot --single-transaction --databases notaryserver notarysigner";

/// The client's own docker TLS directory; sandbox.json mounts the CA there for the server.
const CLIENT_TLS_DIR: &str = "/root/.docker/tls";
/// The client's docker config: where `docker login` (a registry with `--registry-auth`) keeps the
/// registry's credentials, which a second identity needs to push too.
const CLIENT_CONFIG: &str = "/root/.docker/config.json";

pub struct SandboxExecutor<'a> {
    sh: &'a Shell,
    sb: &'a Sandbox,
    secrets: Secrets,
    /// The current step's time limit (the runner sets it before each `run`).
    limit: std::time::Duration,
    masker: Masker,
    /// Stream long steps' output to stderr (off when the progress goes elsewhere, as in `bench`).
    stream: bool,
    /// What was cleaned up because a signal ended the run, for the session's closing message.
    pub teardown: Vec<String>,
}

impl<'a> SandboxExecutor<'a> {
    pub fn new(sh: &'a Shell, sb: &'a Sandbox, stream: bool) -> Result<SandboxExecutor<'a>> {
        let secrets = sb.secrets()?;
        let masker = Masker::new(&secrets.values());
        let limit = super::model::DEFAULT_STEP_TIMEOUT;
        Ok(SandboxExecutor { sh, sb, secrets, limit, masker, stream, teardown: Vec::new() })
    }
}

/// The service (container) a step's `on` names: scenarios use the service table's names, and a
/// scenario's own container its declared name.
pub fn container_of(target: &Target) -> Result<&str> {
    if let Target::Container(name) = target {
        return Ok(name);
    }
    let service = target.service().context("steps on the engine take an `action`, not a command")?;
    Ok(service.as_str())
}

/// The table's service for a scenario's service name; an error if the table has no such service.
fn service_name<'a>(spec: &'a Spec, service: &ServiceName) -> Result<&'a str> {
    Ok(&spec.service(service.as_str())?.name)
}

/// The script a step runs, with a second identity's config dir prepared (with the client's
/// `tls/` directory, which holds the sandbox CA for the notary server as sandbox.json mounts it,
/// and its registry login if it has one)
/// and a clock shift applied (the shift reaches Go programs too: see [`clock::wrap`]).
pub fn wrap_script(script: &str, identity: Option<&str>, clock: Option<(&str, clock::Arch)>) -> String {
    let mut s = String::new();
    if let Some(id) = identity {
        s.push_str(&format!(
            "export DOCKER_CONFIG={IDENTITIES_DIR}/{id}\nmkdir -p \"$DOCKER_CONFIG\" && cp -R {CLIENT_TLS_DIR} \"$DOCKER_CONFIG/\" \
             && {{ [ ! -f {CLIENT_CONFIG} ] || cp {CLIENT_CONFIG} \"$DOCKER_CONFIG/\"; }} \
             || {{ echo \"cannot prepare $DOCKER_CONFIG for identity {id}\" >&2; exit 125; }}\n"
        ));
    }
    match clock {
        Some((offset, arch)) => s.push_str(&clock::wrap(script, offset, arch, clock::GO_PROGRAMS)),
        None => s.push_str(script),
    }
    s
}

impl Executor for SandboxExecutor<'_> {
    fn run(
        &mut self,
        on: &Target,
        identity: Option<&str>,
        script: &str,
        env: &[(String, String)],
        clock: Option<&str>,
    ) -> Result<Output> {
        let container = match on {
            Target::Container(name) => name.as_str(),
            _ => service_name(&self.sb.spec, on.service().context("steps on the engine take an `action`")?)?,
        };
        let mut all_env = if on.is_client() { self.secrets.client_env() } else { Vec::new() };
        all_env.extend(env.iter().cloned());
        let clock = match clock {
            Some(offset) => Some((offset, clock::Arch::host()?)),
            None => None,
        };
        let wrapped = wrap_script(script, identity, clock);
        let name = match on {
            // A helper (the consumer) is the sandbox's own container, like the signers.
            Target::Container(c) if !super::model::HELPERS.contains(&c.as_str()) => containers::engine_name(self.sb, c),
            _ => self.sb.container(container),
        };
        let step = step::Step { container: &name, script: &wrapped, args: &[], env: &all_env };
        let result = step::run(&self.sb.engine, &step, self.limit, &self.masker, self.stream);
        if let Err(e) = &result {
            if let Some(stopped) = e.downcast_ref::<step::Stopped>() {
                if stopped.by_signal {
                    self.teardown.push(stopped.what.clone());
                }
            }
        }
        result
    }

    fn interrupted(&self) -> Option<String> {
        crate::signals::caught().map(|s| format!("interrupted by {s}"))
    }

    fn set_time_limit(&mut self, limit: std::time::Duration) {
        self.limit = limit;
    }

    fn action(&mut self, action: &Action) -> Result<Output> {
        let (sh, sb) = (self.sh, self.sb);
        let done = |msg: String| Ok(Output { code: 0, stdout: msg, stderr: String::new() });
        match action {
            Action::Stop(s) => {
                sb.engine.stop(sh, &sb.container(service_name(&sb.spec, s)?))?;
                done(format!("stopped {s}\n"))
            }
            Action::Start(s) => {
                sb.engine.start(sh, &sb.container(service_name(&sb.spec, s)?))?;
                readiness::wait_stack_ready(sh, sb)?;
                wait_client_reaches(sh, sb, service_name(&sb.spec, s)?)?;
                done(format!("started {s}; ready\n"))
            }
            Action::Restart(s) => {
                let name = sb.container(service_name(&sb.spec, s)?);
                sb.engine.stop(sh, &name)?;
                sb.engine.start(sh, &name)?;
                readiness::wait_stack_ready(sh, sb)?;
                wait_client_reaches(sh, sb, service_name(&sb.spec, s)?)?;
                done(format!("restarted {s}; ready\n"))
            }
            Action::Kill(s) => {
                let service = service_name(&sb.spec, s)?;
                let recovery = crate::sandbox::crash::kill_and_wait(sh, sb, service)?;
                wait_client_reaches(sh, sb, service)?;
                done(recovery.report())
            }
            Action::DbSnapshot(name) => {
                let out = sb.exec(sh, "db", &["sh", "-c", DB_DUMP], &[], None)?;
                if !out.ok() {
                    bail!("snapshot of the trust database failed: {}", out.stderr.trim());
                }
                let dir = sb.dir.path.join("snapshots");
                util::make_private_dir(&dir)?;
                util::write_private(&dir.join(format!("{name}.sql")), out.stdout.as_bytes())?;
                done(format!("saved snapshot {name} ({} bytes)\n", out.stdout.len()))
            }
            Action::Migrate(repo) => {
                let (report, code) = migrate_action(sh, sb, repo)?;
                Ok(Output { code, stdout: report, stderr: String::new() })
            }
            Action::DbRestore(name) => {
                let file = sb.dir.path.join("snapshots").join(format!("{name}.sql"));
                let sql =
                    std::fs::read(&file).with_context(|| format!("no snapshot named {name} ({})", file.display()))?;
                let out = sb.sql(sh, &String::from_utf8_lossy(&sql))?;
                if !out.ok() {
                    bail!("restoring snapshot {name} failed: {}", out.combined().trim());
                }
                done(format!("restored snapshot {name}\n"))
            }
        }
    }

    fn trust(&mut self, repository: &str, identity: Option<&str>) -> Result<crate::trust::view::TrustView> {
        let gun = crate::trust::gun(&self.sb.client_registry()?, repository)?;
        crate::trust::snapshot(self.sh, self.sb, &gun, identity, crate::trust::Verify::ReadOnly)
    }

    fn begin(&mut self, scenario: &Scenario) -> Result<()> {
        if scenario.requires.iter().any(|r| r == crate::migrate::consumer::IMAGE) {
            start_consumer(self.sh, self.sb)?;
        }
        for decl in &scenario.containers {
            containers::start(self.sh, self.sb, &scenario.name, decl)?;
        }
        Ok(())
    }

    /// Every container of this scenario that carries this sandbox's labels goes, also one that an
    /// interrupted start created without reporting it.
    fn end(&mut self, scenario: &Scenario) -> Result<()> {
        let removed = containers::remove_all(self.sh, self.sb, &scenario.name)?;
        if crate::signals::caught().is_some() && !removed.is_empty() {
            self.teardown.push(format!("removed the scenario's container(s) {}", removed.join(", ")));
        }
        Ok(())
    }
}

/// The `migrate` action: the command's own code for one repository, in every format, the
/// consumer kit written where `migrate` writes it. Returns the table and the exit code.
pub fn migrate_action(sh: &Shell, sb: &Sandbox, repo: &str) -> Result<(String, i32)> {
    use crate::migrate::{self, kit, signers::ImageChoice, signing::Format};
    let opts = migrate::Options {
        formats: Format::ALL.to_vec(),
        kit_dir: kit::default_dir(sb),
        images: ImageChoice { source: crate::images::SourceKind::default_for_up(), mirrors: vec![] },
        only: Some(format!("{}/{repo}", sb.spec.registry_address()?)),
    };
    let signers = migrate::start(sh, sb, &opts)?;
    let report = migrate::migrate(sh, sb, &signers, &opts)?;
    let pinned: String = report.records.iter().map(|r| format!("pinned {}\n", r.pinned())).collect();
    let missing: String = report
        .not_migrated
        .iter()
        .map(|n| format!("not migrated: {} in {}: {}\n", n.tag, n.format.name(), n.reason))
        .collect();
    let text = format!(
        "{}{pinned}{missing}{} signed now, {} already there, {} failed; consumer kit: {}\n",
        migrate::table(&report),
        report.signed,
        report.already_signed,
        report.failed,
        report.kit.as_deref().unwrap_or("-")
    );
    Ok((text, if !report.not_migrated.is_empty() || report.records.is_empty() { 1 } else { 0 }))
}

/// The `consumer` helper a scenario requires: its image (built on first use) and its container,
/// with the consumer kit mounted (empty until a `migrate` step writes it: then it refuses all).
pub fn start_consumer(sh: &Shell, sb: &Sandbox) -> Result<()> {
    use crate::migrate::{consumer, kit, signers::ImageChoice};
    let choice = ImageChoice { source: crate::images::SourceKind::default_for_up(), mirrors: vec![] };
    let image = consumer::image(sh, sb, &choice)?;
    util::make_private_dir(&crate::migrate::signers::state_dir(sb))?;
    consumer::Consumer::start(sh, sb, &image, &kit::default_dir(sb))?;
    Ok(())
}

/// After a restart the service may have a new address (podman hands out another IP, and a random
/// MAC): until the client's neighbour cache lets go of the old entry, connections from the client
/// time out although the host-side readiness probes pass. Measured: the next scenario's first
/// notary call in the client failed with `Client.Timeout exceeded` on podman. So a restart is done
/// when the client connects to each of the service's ports by its name.
pub fn wait_client_reaches(sh: &Shell, sb: &Sandbox, service: &str) -> Result<()> {
    let svc = sb.spec.service(service)?;
    let client = &sb.spec.client()?.name;
    let Some(host) = svc.aliases.first() else { return Ok(()) };
    if svc.name == *client {
        return Ok(());
    }
    for port in &svc.ports {
        let script = client_connect_script(host, port.container);
        let out = sb.exec(sh, client, &["bash", "-c", &script], &[], None)?;
        if !out.ok() {
            bail!("the client cannot reach {host}:{} after the restart: {}", port.container, out.combined().trim());
        }
    }
    Ok(())
}

/// A bash loop in the client: connect to host:port (bash's /dev/tcp) for up to a minute.
fn client_connect_script(host: &str, port: u16) -> String {
    format!(
        "for i in $(seq 1 120); do timeout 2 bash -c '</dev/tcp/{host}/{port}' 2>/dev/null && exit 0; sleep 0.5; done; echo 'no connection to {host}:{port} within a minute'; exit 1"
    )
}

/// What a scenario needs of the client image beyond the stack (its `requires`), checked before it runs.
pub fn check_requirements(sh: &Shell, sb: &Sandbox, s: &Scenario) -> Result<()> {
    for cap in &s.requires {
        if cap == "faketime" {
            // A shifted clock needs libfaketime and the host architecture's qemu in the client.
            let probe = clock::probe_script(clock::Arch::host()?);
            let out = sb.exec(sh, &sb.spec.client()?.name, &["sh", "-c", &probe], &[], None)?;
            if !out.ok() {
                bail!(
                    "scenario {} shifts the clock, which this client image cannot: {} (rebuild the images: `cargo xtask sandbox up`)",
                    s.name,
                    out.combined().trim()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_gets_its_own_config_dir_with_the_ca() {
        let s = wrap_script("docker push x", Some("alice"), None);
        assert!(s.starts_with("export DOCKER_CONFIG=/root/.docker/trust/identities/alice\n"), "{s}");
        assert!(s.contains("cp -R /root/.docker/tls \"$DOCKER_CONFIG/\""), "{s}");
        // The directory copied is where sandbox.json mounts the CA for the client.
        let spec = crate::table::load().unwrap();
        let client = spec.client().unwrap();
        assert!(client.files.iter().any(|f| f.from == "pki/ca.crt" && f.to.starts_with(CLIENT_TLS_DIR)));
        assert!(s.ends_with("docker push x"));
        // And the registry login, where the client has one.
        assert!(
            s.contains("[ ! -f /root/.docker/config.json ] || cp /root/.docker/config.json \"$DOCKER_CONFIG/\""),
            "{s}"
        );
    }

    #[test]
    fn clock_shift_wraps_the_whole_step_after_the_identity() {
        let s = wrap_script("docker pull x", Some("bob"), Some(("+15d", clock::Arch::X86_64)));
        assert!(s.starts_with("export DOCKER_CONFIG=/root/.docker/trust/identities/bob\n"), "{s}");
        let clock_at = s.find("# clock +15d").expect("the clock comes after the identity");
        assert!(s[clock_at..].contains("for ts_p in docker notary; do"), "{s}");
        assert!(s.ends_with("sh -c 'docker pull x'"), "{s}");
        assert_eq!(wrap_script("docker pull x", None, None), "docker pull x");
    }

    #[test]
    fn a_restart_waits_for_the_client_to_connect_by_name() {
        let s = client_connect_script("notaryserver", 4443);
        assert!(s.contains("timeout 2 bash -c '</dev/tcp/notaryserver/4443'"), "{s}");
        assert!(s.ends_with("exit 1"), "{s}");
        let status = std::process::Command::new("bash").args(["-n", "-c", &s]).status().unwrap();
        assert!(status.success(), "{s}");
    }

    #[test]
    fn engine_steps_are_refused_as_commands() {
        assert!(container_of(&Target::Engine).is_err());
        assert_eq!(container_of(&Target::named("registry")).unwrap(), "registry");
        assert_eq!(container_of(&Target::Container("impostor".into())).unwrap(), "impostor");
        // A service's name is its container's; a name the table lacks is the scenario's own.
        let spec = crate::table::load().unwrap();
        for svc in &spec.services {
            assert_eq!(container_of(&Target::from(svc.name.clone())).unwrap(), svc.name);
        }
        assert_eq!(container_of(&Target::named("nginx")).unwrap(), "nginx");
    }
}
