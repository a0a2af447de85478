//! Waiting for readiness: the sandbox answers each service's probe (`table::readiness`, the enum
//! and its probes) for its containers, and retries it until it passes or the timeout ends, then
//! reports the last error (the one that explains what is wrong), never just "timed out".

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::state::REGISTRY_USER;
use super::{db, repair, schema, Sandbox};
use crate::engine::Output;
use crate::table::readiness::{HttpAccess, Probed, Readiness};
use crate::table::Service;
use crate::util::poll;

const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a service may fail its probe before the wait looks at its container: most start
/// within it (0.2–0.6 s), and each look is an engine call (0.1–0.4 s on a busy podman) between
/// two probes. A wedge is still found, this much later.
const DEAD_END_AFTER: Duration = Duration::from_millis(500);

/// Why waiting cannot help: the container is gone, stopped, or restarting in a loop (a
/// `repair::Wedge`, which `up` answers by recreating it).
fn dead_end(
    sh: &Shell,
    sb: &Sandbox,
    service: &str,
    watch: &mut repair::Watch,
    probe: &anyhow::Error,
) -> Result<Option<anyhow::Error>> {
    Ok(match sb.engine.container(sh, &sb.container(service))? {
        None => Some(anyhow::anyhow!("{service} container is gone; last probe error: {probe:#}")),
        Some(c) => watch.observe(service, &c, Instant::now()).map(|mut w| {
            w.probe_error = Some(format!("{probe:#}"));
            anyhow::Error::new(w)
        }),
    })
}

fn poll_service<T>(sh: &Shell, sb: &Sandbox, svc: &str, what: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut fatal: Option<anyhow::Error> = None;
    let mut watch = repair::Watch::default();
    let started = Instant::now();
    let r = poll(what, READY_TIMEOUT, || {
        if fatal.is_some() {
            return Ok(None);
        }
        match f() {
            Ok(v) => Ok(Some(v)),
            Err(e) if started.elapsed() < DEAD_END_AFTER => Err(e),
            Err(e) => {
                if let Some(dead) = dead_end(sh, sb, svc, &mut watch, &e)? {
                    fatal = Some(dead);
                    return Ok(None);
                }
                Err(e)
            }
        }
    })?;
    match (r, fatal) {
        (Some(v), _) => Ok(v),
        (None, Some(f)) => Err(f),
        (None, None) => bail!("{what}: probe ended without a result"),
    }
}

/// One probe per readiness kind; each proves the service does its job, not just that it runs.
pub fn wait_ready(sh: &Shell, sb: &Sandbox, svc: &Service) -> Result<()> {
    match &svc.readiness {
        Readiness::DbSchema => {
            // One exec does the readiness probe, the idempotent bootstrap and the reading of what
            // was applied: on podman every exec costs a few hundred milliseconds.
            let sql = schema::schema_state_sql(&sb.secrets()?);
            let stdout = poll_service(sh, sb, &svc.name, "database", || {
                let out = sb.sql(sh, &sql)?;
                if !out.ok() {
                    bail!("{}", out.combined().trim());
                }
                Ok(out.stdout)
            })?;
            schema::apply_migrations(sh, sb, &stdout)
        }
        // Both halves are needed, and neither waits for the other: the account's read is asked
        // in the DB container (ready before this service started) while the port is polled. One
        // after the other, the read's exec (0.15–0.4 s on podman) was on `up`'s critical path.
        Readiness::Tcp { port, database: Some(database) } => {
            let port_only = Service { readiness: Readiness::Tcp { port: *port, database: None }, ..svc.clone() };
            let port_failed = AtomicBool::new(false);
            std::thread::scope(|s| {
                let reads = s.spawn(|| -> Result<()> {
                    let sh = Shell::new()?;
                    poll_service(&sh, sb, &svc.name, &svc.name, || {
                        // The port's wait failed: its error is the one to report.
                        if port_failed.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        database_answers(&sh, sb, database)
                    })
                });
                let port = poll_service(sh, sb, &svc.name, &svc.name, || probe_once(sh, sb, &port_only));
                port_failed.store(port.is_err(), Ordering::Relaxed);
                let reads = reads.join().expect("a probe does not panic");
                port.and(reads)
            })
        }
        // The other probes answer the same question for `status`; here they are retried.
        _ => poll_service(sh, sb, &svc.name, &svc.name, || probe_once(sh, sb, svc)),
    }
}

/// One service of the sandbox, answering its probe.
struct On<'a> {
    sh: &'a Shell,
    sb: &'a Sandbox,
    svc: &'a Service,
}

impl Probed for On<'_> {
    fn exec(&self, argv: &[&str]) -> Result<Output> {
        self.sb.exec(self.sh, &self.svc.name, argv, &[], None)
    }

    fn schema(&self) -> Result<Output> {
        self.sb.sql(self.sh, &format!("SELECT COUNT(*) FROM {}.{};", db::SERVER_DB, db::TRACKING_TABLE))
    }

    fn database_reads(&self, database: &str) -> Result<()> {
        database_answers(self.sh, self.sb, database)
    }

    fn host_port(&self, port: u16) -> Result<u16> {
        self.svc
            .ports
            .iter()
            .find(|p| p.container == port)
            .and_then(|p| self.sb.published_port(p.publish.as_deref()?))
            .with_context(|| format!("{} does not publish port {port}", self.svc.name))
    }

    fn ca_file(&self) -> PathBuf {
        self.sb.ca_file()
    }

    /// The registry of a sandbox made with `--registry-tls`/`--registry-auth`: TLS verified with
    /// the sandbox CA, and a 200 only with the sandbox's credentials.
    fn http_access(&self) -> Result<HttpAccess> {
        let mode = self.sb.state.registry;
        if self.sb.spec.registry()?.name != self.svc.name || mode.is_plain() {
            return Ok(HttpAccess::default());
        }
        let authorization = match mode.auth {
            true => Some(crate::util::basic_auth(REGISTRY_USER, &self.sb.secrets()?.registry_password)),
            false => None,
        };
        Ok(HttpAccess { tls: mode.tls, authorization })
    }
}

/// One readiness check without waiting (and without applying anything).
pub fn probe_once(sh: &Shell, sb: &Sandbox, svc: &Service) -> Result<()> {
    svc.readiness.probe(&On { sh, sb, svc })
}

/// The account a service uses for `database` reads it, over TCP as the service connects, in the DB
/// container. The password reaches the client as an option file on stdin, never on argv.
fn database_answers(sh: &Shell, sb: &Sandbox, database: &str) -> Result<()> {
    let secrets = sb.secrets()?;
    let (user, password, table) = match database {
        db::SIGNER_DB => (super::config::SIGNER_DB_USER, &secrets.db_signer_password, "private_keys"),
        db::SERVER_DB => (super::config::SERVER_DB_USER, &secrets.db_server_password, "tuf_files"),
        other => bail!("sandbox.json: readiness names database `{other}`, which the sandbox does not have"),
    };
    let db_service = sb
        .spec
        .services
        .iter()
        .find(|s| s.readiness == Readiness::DbSchema)
        .context("sandbox.json has no database service")?;
    let script = format!(
        "exec \"$(command -v mariadb || command -v mysql)\" --defaults-extra-file=/dev/stdin --protocol=tcp -h 127.0.0.1 --batch --skip-column-names -e 'SELECT COUNT(*) FROM {database}.{table}'"
    );
    let options = format!("[client]\nuser={user}\npassword={password}\n");
    let out = sb.exec(sh, &db_service.name, &["sh", "-c", &script], &[], Some(options.as_bytes()))?;
    if !out.ok() {
        bail!("its database account cannot read {database}.{table}: {}", out.reason());
    }
    Ok(())
}

/// After a service comes back, its dependents must reconnect too (notary-server's gRPC link to
/// the signer backs off), so a restart is done when the whole stack is ready, in table order.
pub fn wait_stack_ready(sh: &Shell, sb: &Sandbox) -> Result<()> {
    for svc in &sb.spec.services {
        let what = format!("{} after the restart", svc.name);
        poll(&what, READY_TIMEOUT, || probe_once(sh, sb, svc))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sandbox::config::{LOGIN_DONE, LOGIN_SCRIPT_TARGET};
    use crate::table::readiness::CLIENT_READY;

    #[test]
    fn the_client_readiness_names_the_login_files_config_writes() {
        assert!(CLIENT_READY.contains(LOGIN_SCRIPT_TARGET) && CLIENT_READY.contains(LOGIN_DONE));
        let spec = crate::table::load().unwrap();
        let client = spec.client().unwrap();
        assert!(client.files.iter().any(|f| f.to == LOGIN_SCRIPT_TARGET), "sandbox.json mounts the script there");
    }
}
