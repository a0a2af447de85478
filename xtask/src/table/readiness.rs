//! Readiness: each service's probe kind as the table names it (the enum) and, beside it, what
//! each kind asks of a running service to prove that the service does its job (not just that it
//! runs). The running sandbox answers the questions ([`Probed`]) and does the waiting
//! (`sandbox::readiness`); bench's plain baseline asks the same questions its own simpler way
//! ([`PlainCheck`]), and `export` asks them from inside the container (`export::probe`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::Output;
use crate::util;

/// The client is ready when its daemon answers and, in a sandbox whose registry needs a login
/// (the login script is mounted), once the login is done. Run in the client by `up` and by the
/// exported stacks' probes alike.
pub const CLIENT_READY: &str = "docker info --format '{{.ServerVersion}}' >/dev/null && { [ ! -e /etc/sandbox/registry-login.sh ] || [ -e /run/registry-login.done ] || { echo 'waiting for docker login to the registry' >&2; exit 1; }; }";

/// How a service's plain HTTP port is reached: the registry of a sandbox made with
/// `--registry-tls`/`--registry-auth` speaks TLS (the sandbox CA) and answers 200 only with its
/// credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpAccess {
    pub tls: bool,
    /// The `Authorization` header's value.
    pub authorization: Option<String>,
}

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

/// What a probe asks of one running service; the sandbox answers for its containers.
pub trait Probed {
    /// Runs argv in the service's container.
    fn exec(&self, argv: &[&str]) -> Result<Output>;
    /// Asks the trust database whether the sandbox's schema is in place (its tracking table
    /// answers); the schema is the sandbox's, and so is the question's SQL.
    fn schema(&self) -> Result<Output>;
    /// Whether the service's own database account reads `database` (the sandbox holds the
    /// account's password, and asks in the DB container).
    fn database_reads(&self, database: &str) -> Result<()>;
    /// The host port on 127.0.0.1 that publishes the container's `port`.
    fn host_port(&self, port: u16) -> Result<u16>;
    /// The sandbox CA's certificate file: TLS probes trust it alone.
    fn ca_file(&self) -> PathBuf;
    /// How the service's `Http` port is reached (plain, unless the sandbox says otherwise).
    fn http_access(&self) -> Result<HttpAccess> {
        Ok(HttpAccess::default())
    }
}

impl Readiness {
    /// One check without waiting (and without applying anything).
    pub fn probe(&self, on: &impl Probed) -> Result<()> {
        match self {
            Readiness::DbSchema => succeeded(on.schema()?, ""),
            Readiness::Tcp { port, database } => {
                succeeded(
                    on.exec(&["bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")])?,
                    &format!("tcp/{port}: "),
                )?;
                match database {
                    Some(database) => on.database_reads(database),
                    None => Ok(()),
                }
            }
            Readiness::Https { port, path, through_signer } => {
                let base = format!("https://127.0.0.1:{}", on.host_port(*port)?);
                for p in std::iter::once(path).chain(through_signer) {
                    let url = format!("{base}{p}");
                    expect_status(&url, https_get(&url, &on.ca_file())?, 200)?;
                }
                Ok(())
            }
            Readiness::Http { port, path } => {
                let access = on.http_access()?;
                let scheme = if access.tls { "https" } else { "http" };
                let url = format!("{scheme}://127.0.0.1:{}{path}", on.host_port(*port)?);
                let agent = match access.tls {
                    true => ca_agent(&on.ca_file())?,
                    false => util::http_agent(None)?,
                };
                expect_status(&url, get(&agent, &url, access.authorization.as_deref())?, 200).map(|_| ())
            }
            Readiness::ClientDaemon => succeeded(on.exec(&["sh", "-c", CLIENT_READY])?, ""),
        }
    }
}

/// A probe command passed, or failed with its output (after `prefix`).
fn succeeded(out: Output, prefix: &str) -> Result<()> {
    if !out.ok() {
        bail!("{prefix}{}", out.combined().trim());
    }
    Ok(())
}

/// GET over TLS verified with our CA only (not the system store): proves the chain, not just the port.
fn https_get(url: &str, ca_file: &std::path::Path) -> Result<(u16, String)> {
    get(&ca_agent(ca_file)?, url, None)
}

fn ca_agent(ca_file: &std::path::Path) -> Result<ureq::Agent> {
    let pem = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    util::http_agent(Some(&pem))
}

fn get(agent: &ureq::Agent, url: &str, authorization: Option<&str>) -> Result<(u16, String)> {
    let mut req = agent.get(url);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let mut resp = req.call().with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, body))
}

fn expect_status(url: &str, got: (u16, String), want: u16) -> Result<String> {
    if got.0 != want {
        bail!("GET {url} answered {} (want {want}): {}", got.0, got.1.trim());
    }
    Ok(got.1)
}

/// The same question as a person would ask it with the plain engine CLI and a loop: what
/// `bench` times our readiness against. Deliberately simpler than our probes (no schema check,
/// no log tail): it is the baseline, not a second implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainCheck {
    /// `engine exec <container> <argv>` succeeds.
    Exec(Vec<String>),
    /// GET of each of `paths` on the host port published for container `port` answers 200: the
    /// server's health and, as a person would curl it after a signer restart, a key fetch through
    /// the signer (the health alone is cached and said ready while a signed push failed).
    Get { port: u16, paths: Vec<String>, tls: bool },
}

impl Readiness {
    pub fn plain_check(&self) -> PlainCheck {
        let argv = |a: &[&str]| PlainCheck::Exec(a.iter().map(|s| s.to_string()).collect());
        match self {
            Readiness::DbSchema => argv(&["mysql", "-S", "/run/mysqld/mysqld.sock", "-uroot", "-e", "select 1"]),
            Readiness::Tcp { port, .. } => argv(&["bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]),
            Readiness::Https { port, path, through_signer } => PlainCheck::Get {
                port: *port,
                paths: std::iter::once(path).chain(through_signer).cloned().collect(),
                tls: true,
            },
            Readiness::Http { port, path } => PlainCheck::Get { port: *port, paths: vec![path.clone()], tls: false },
            Readiness::ClientDaemon => argv(&["docker", "version", "--format", "{{.Server.Version}}"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn plain_checks_ask_the_table_services_the_same_question() {
        let spec = crate::table::load().unwrap();
        let check = |name: &str| spec.service(name).unwrap().readiness.plain_check();
        assert_eq!(check("registry"), PlainCheck::Get { port: 5000, paths: vec!["/v2/".into()], tls: false });
        let PlainCheck::Get { port: 4443, paths, tls: true } = check("notaryserver") else {
            panic!("the server is probed over TLS on 4443")
        };
        // The health, then a request only the signer can answer (its health is cached).
        assert_eq!(paths[0], "/_notary_server/health");
        let Readiness::Https { through_signer: Some(through), .. } = &spec.service("notaryserver").unwrap().readiness
        else {
            panic!("the server's readiness goes through the signer")
        };
        assert_eq!(paths[1..], *std::slice::from_ref(through));
        let PlainCheck::Exec(signer) = check("notarysigner") else { panic!("the signer is probed inside") };
        assert_eq!(signer.last().unwrap(), "exec 3<>/dev/tcp/127.0.0.1/7899");
    }

    #[test]
    fn status_mismatch_quotes_body() {
        let err = expect_status("u", (503, "down".into()), 200).unwrap_err().to_string();
        assert!(err.contains("503") && err.contains("down"));
    }

    /// A service that answers every exec with `code`, and records what it was asked.
    struct Answers {
        code: i32,
        asked: RefCell<Vec<String>>,
    }

    impl Probed for Answers {
        fn exec(&self, argv: &[&str]) -> Result<Output> {
            self.asked.borrow_mut().push(argv.join(" "));
            Ok(Output { code: self.code, stdout: String::new(), stderr: "refused".into() })
        }
        fn schema(&self) -> Result<Output> {
            self.exec(&["schema"])
        }
        fn database_reads(&self, database: &str) -> Result<()> {
            succeeded(self.exec(&["read", database])?, "")
        }
        fn host_port(&self, port: u16) -> Result<u16> {
            bail!("{port} is not published")
        }
        fn ca_file(&self) -> PathBuf {
            PathBuf::from("/nonexistent")
        }
    }

    #[test]
    fn in_container_probes_pass_on_success_and_fail_with_the_output() {
        let ok = Answers { code: 0, asked: RefCell::default() };
        Readiness::Tcp { port: 7899, database: None }.probe(&ok).unwrap();
        Readiness::Tcp { port: 7899, database: Some("notarysigner".into()) }.probe(&ok).unwrap();
        Readiness::ClientDaemon.probe(&ok).unwrap();
        Readiness::DbSchema.probe(&ok).unwrap();
        let client = format!("sh -c {CLIENT_READY}");
        assert_eq!(
            *ok.asked.borrow(),
            [
                "bash -c exec 3<>/dev/tcp/127.0.0.1/7899",
                "bash -c exec 3<>/dev/tcp/127.0.0.1/7899",
                "read notarysigner",
                client.as_str(),
                "schema"
            ]
        );
        let refused = Answers { code: 1, asked: RefCell::default() };
        let err = Readiness::Tcp { port: 7899, database: None }.probe(&refused).unwrap_err().to_string();
        assert_eq!(err, "tcp/7899: refused");
        // The database is asked only once the port answers.
        Readiness::Tcp { port: 7899, database: Some("notarysigner".into()) }.probe(&refused).unwrap_err();
        assert!(!refused.asked.borrow().iter().any(|a| a.starts_with("read")), "{:?}", refused.asked.borrow());
        let http = Readiness::Http { port: 5000, path: "/v2/".into() }.probe(&refused).unwrap_err().to_string();
        assert_eq!(http, "5000 is not published");
    }
}
