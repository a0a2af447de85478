//! Readiness: each service's probe kind from the table (the enum), one probe per kind that proves
//! the service does its job (not just that it runs), and the waiting: `poll` retries a probe until
//! it passes or the timeout ends, then reports the last error (the one that explains what is
//! wrong), never just "timed out".

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xshell::Shell;

use super::spec::Service;
use super::{db, repair, schema, Sandbox};
use crate::util;

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// How `up` and `status` decide that a service works (`readiness` in sandbox.json).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Readiness {
    DbSchema,
    /// `port` accepts connections; with `database`, the service's own account (the one in its
    /// config) also reads that database, in the DB container: the signer's port stays open while
    /// its database is down, and a port alone said `ready` for a signer that could not sign.
    Tcp {
        port: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database: Option<String>,
    },
    /// `path` answers 200 over TLS verified with the sandbox CA; so does `through_signer` if set: a
    /// request the server can only answer through its signer (notary-server's own health caches the
    /// signer's state for up to 10 s, so it can say healthy while a signed push would fail).
    Https {
        port: u16,
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        through_signer: Option<String>,
    },
    Http {
        port: u16,
        path: String,
    },
    ClientDaemon,
}

/// The same question as a person would ask it with the plain engine CLI and a loop: what
/// `bench` times our readiness against. Deliberately simpler than our probes (no schema check,
/// no log tail): it is the baseline, not a second implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainCheck {
    /// `engine exec <container> <argv>` succeeds.
    Exec(Vec<String>),
    /// GET of `path` on the host port published for container `port` answers 200.
    Get { port: u16, path: String, tls: bool },
}

impl Readiness {
    pub fn plain_check(&self) -> PlainCheck {
        let argv = |a: &[&str]| PlainCheck::Exec(a.iter().map(|s| s.to_string()).collect());
        match self {
            Readiness::DbSchema => argv(&["mysql", "-S", "/run/mysqld/mysqld.sock", "-uroot", "-e", "select 1"]),
            Readiness::Tcp { port, .. } => argv(&["bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]),
            Readiness::Https { port, path, .. } => PlainCheck::Get { port: *port, path: path.clone(), tls: true },
            Readiness::Http { port, path } => PlainCheck::Get { port: *port, path: path.clone(), tls: false },
            Readiness::ClientDaemon => argv(&["docker", "version", "--format", "{{.Server.Version}}"]),
        }
    }
}

pub fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        // A run that a signal ends (see crate::signals) stops waiting at once.
        crate::signals::check()?;
        match probe() {
            Ok(v) => return Ok(v),
            Err(err) if started.elapsed() >= timeout => {
                bail!("{what} not ready after {:.0} s; last error: {err:#}", timeout.as_secs_f64())
            }
            Err(_) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(150));
            }
        }
    }
}

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
    let r = poll(what, READY_TIMEOUT, || {
        if fatal.is_some() {
            return Ok(None);
        }
        match f() {
            Ok(v) => Ok(Some(v)),
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
        Readiness::Tcp { port, database } => {
            let out =
                sb.exec(sh, &svc.name, &["bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")], &[], None)?;
            if !out.ok() {
                bail!("tcp/{port}: {}", out.combined().trim());
            }
            match database {
                Some(database) => database_answers(sh, sb, database),
                None => Ok(()),
            }
        }
        Readiness::Https { port, path, through_signer } => {
            let base = format!("https://127.0.0.1:{}", published_for(sb, svc, *port)?);
            for p in std::iter::once(path).chain(through_signer) {
                let url = format!("{base}{p}");
                util::expect_status(&url, util::https_get(&url, &sb.ca_file())?, 200)?;
            }
            Ok(())
        }
        Readiness::Http { port, path } => {
            let url = format!("http://127.0.0.1:{}{path}", published_for(sb, svc, *port)?);
            util::expect_status(&url, util::http_get(&url)?, 200).map(|_| ())
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
    use super::*;

    #[test]
    fn poll_returns_first_success() {
        let mut n = 0;
        let v = poll("thing", Duration::from_secs(5), || {
            n += 1;
            if n < 3 {
                bail!("not yet {n}")
            }
            Ok(n)
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn poll_reports_the_last_error() {
        let mut n = 0;
        let err = poll::<()>("signer", Duration::from_millis(120), || {
            n += 1;
            bail!("connection refused #{n}")
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("signer not ready after"), "{err}");
        assert!(err.contains(&format!("connection refused #{n}")), "{err}");
    }

    #[test]
    fn plain_checks_ask_the_table_services_the_same_question() {
        let spec = crate::sandbox::spec::load().unwrap();
        let check = |name: &str| spec.service(name).unwrap().readiness.plain_check();
        assert_eq!(check("registry"), PlainCheck::Get { port: 5000, path: "/v2/".into(), tls: false });
        assert_eq!(
            check("notaryserver"),
            PlainCheck::Get { port: 4443, path: "/_notary_server/health".into(), tls: true }
        );
        let PlainCheck::Exec(signer) = check("notarysigner") else { panic!("the signer is probed inside") };
        assert_eq!(signer.last().unwrap(), "exec 3<>/dev/tcp/127.0.0.1/7899");
    }
}
