//! Each readiness kind as a command run *inside* the service's container: what an orchestrator
//! can execute as a Compose healthcheck or a Kubernetes readiness probe. `up` probes from the
//! host (published ports, `exec`); these ask the same question from within, with tools every
//! image of the table holds (sh, bash's /dev/tcp, openssl, the DB client, the docker CLI).

use crate::sandbox::db;
use crate::sandbox::state::RegistryMode;
use crate::table::Readiness;

/// How many migrations each database must have recorded before the DB counts as ready.
pub struct Expected {
    pub server_migrations: usize,
    pub signer_migrations: usize,
}

/// A registry created with `--registry-tls`/`--registry-auth` is probed over TLS, and answers its
/// `/v2/` with 401 to a probe that has no credentials (a manifest holds none): that counts too.
pub fn registry_readiness(readiness: &Readiness, mode: RegistryMode) -> (Readiness, bool) {
    match readiness {
        Readiness::Http { port, path } if mode.tls => {
            (Readiness::Https { port: *port, path: path.clone(), through_signer: None }, mode.auth)
        }
        other => (other.clone(), false),
    }
}

/// argv for the in-container probe; `ca` is where the service sees the sandbox CA, if it does;
/// `unauthorized_ok` accepts a 401 as an answer (see [`registry_readiness`]).
pub fn command(readiness: &Readiness, ca: Option<&str>, expected: &Expected, unauthorized_ok: bool) -> Vec<String> {
    let status = if unauthorized_ok { "grep -qE ' (200|401) '" } else { "grep -q ' 200 '" };
    let script = match readiness {
        // The schema is what makes the DB ready for notary (as in `up`): every migration recorded.
        Readiness::DbSchema => format!(
            "c=$(command -v mariadb || command -v mysql); \
             n=$(\"$c\" --protocol=socket -S /run/mysqld/mysqld.sock -uroot --batch --skip-column-names -e \
             \"SELECT (SELECT COUNT(*) FROM {server}.{t}) = {ns} AND (SELECT COUNT(*) FROM {signer}.{t}) = {nsig}\") \
             && test \"$n\" = 1",
            server = db::SERVER_DB,
            signer = db::SIGNER_DB,
            t = db::TRACKING_TABLE,
            ns = expected.server_migrations,
            nsig = expected.signer_migrations,
        ),
        // In a container the service's database cannot be asked with its account (no DB client
        // there); its port is what an orchestrator can probe.
        Readiness::Tcp { port, .. } => format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
        // TLS verified against the sandbox CA when the container holds it, then the status line.
        Readiness::Https { port, path, .. } => {
            let verify = ca.map(|ca| format!(" -CAfile {ca} -verify_return_error")).unwrap_or_default();
            format!(
                "printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' \
                 | openssl s_client -quiet -connect 127.0.0.1:{port} -servername localhost{verify} 2>/dev/null \
                 | head -n 1 | {status}"
            )
        }
        Readiness::Http { port, path, .. } => format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 \
             && head -n 1 <&3 | grep -q ' 200 '"
        ),
        Readiness::ClientDaemon => crate::table::readiness::CLIENT_READY.to_string(),
    };
    vec!["bash".into(), "-c".into(), script]
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: Expected = Expected { server_migrations: 2, signer_migrations: 1 };

    /// As the table spells it (optional fields stay optional).
    fn readiness(json: &str) -> Readiness {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_kind_probes_inside_with_bash() {
        for r in [
            Readiness::DbSchema,
            Readiness::Tcp { port: 7899, database: None },
            readiness(r#"{"kind": "https", "port": 4443, "path": "/_notary_server/health"}"#),
            readiness(r#"{"kind": "http", "port": 5000, "path": "/v2/"}"#),
            Readiness::ClientDaemon,
        ] {
            let argv = command(&r, None, &EXPECTED, false);
            assert_eq!(argv[..2], ["bash", "-c"], "{r:?}");
            if let Readiness::Tcp { port, .. } | Readiness::Https { port, .. } | Readiness::Http { port, .. } = &r {
                assert!(
                    argv[2].contains(&format!("127.0.0.1:{port}")) || argv[2].contains(&format!("127.0.0.1/{port}")),
                    "{r:?}"
                );
            }
        }
    }

    #[test]
    fn https_verifies_with_the_ca_when_the_container_has_it() {
        let r = readiness(r#"{"kind": "https", "port": 4443, "path": "/_notary_server/health"}"#);
        let with = command(&r, Some("/etc/sandbox/ca.crt"), &EXPECTED, false)[2].clone();
        assert!(with.contains("-CAfile /etc/sandbox/ca.crt -verify_return_error"), "{with}");
        assert!(with.contains("127.0.0.1:4443") && with.contains("GET /_notary_server/health"), "{with}");
        assert!(!command(&r, None, &EXPECTED, false)[2].contains("-CAfile"));
    }

    #[test]
    fn a_tls_registry_is_probed_over_tls_and_with_auth_a_401_answers() {
        let http = readiness(r#"{"kind": "http", "port": 5000, "path": "/v2/"}"#);
        assert_eq!(registry_readiness(&http, RegistryMode::default()), (http.clone(), false));
        let (r, ok401) = registry_readiness(&http, RegistryMode { tls: true, auth: true });
        assert!(ok401);
        let s = command(&r, Some("/etc/sandbox/ca.crt"), &EXPECTED, ok401)[2].clone();
        assert!(s.contains("openssl s_client") && s.contains("-CAfile /etc/sandbox/ca.crt"), "{s}");
        assert!(s.contains("(200|401)"), "{s}");
    }

    #[test]
    fn db_is_ready_only_with_every_migration_recorded() {
        let s = command(&Readiness::DbSchema, None, &EXPECTED, false)[2].clone();
        assert!(s.contains("notaryserver.sandbox_schema_migrations) = 2"), "{s}");
        assert!(s.contains("notarysigner.sandbox_schema_migrations) = 1"), "{s}");
    }
}
