//! Service configuration rendered from the state (ports, users, secrets, PKI paths). Pure: returns
//! file names and contents; `lifecycle` writes them and mounts each into its one service.

use serde_json::json;

use anyhow::Result;

use super::state::Secrets;
use crate::table::Spec;

/// Where things are inside the containers.
pub const CONF_DIR: &str = "/etc/sandbox";
pub const SIGNER_ALIAS: &str = "sandbox";
pub const DB_HOST: &str = "db";
pub const SERVER_DB_USER: &str = "notaryserver";
pub const SIGNER_DB_USER: &str = "notarysigner";

pub struct Rendered {
    pub file: String,
    pub content: String,
    /// Files carrying a secret are 0600; the rest 0644.
    pub secret: bool,
}

fn db_url(user: &str, password: &str, database: &str) -> String {
    format!("{user}:{password}@tcp({DB_HOST}:3306)/{database}?parseTime=True")
}

pub fn server_json(secrets: &Secrets) -> String {
    let v = json!({
        "server": {
            "http_addr": ":4443",
            "tls_cert_file": format!("{CONF_DIR}/notaryserver.crt"),
            "tls_key_file": format!("{CONF_DIR}/notaryserver.key"),
        },
        "trust_service": {
            "type": "remote",
            "hostname": "notarysigner",
            "port": "7899",
            "tls_ca_file": format!("{CONF_DIR}/ca.crt"),
            "key_algorithm": "ecdsa",
            // The server's own certificate is its client identity toward the signer (mutual TLS).
            "tls_client_cert": format!("{CONF_DIR}/notaryserver.crt"),
            "tls_client_key": format!("{CONF_DIR}/notaryserver.key"),
        },
        "logging": { "level": "info" },
        "storage": {
            "backend": "mysql",
            "db_url": db_url(SERVER_DB_USER, &secrets.db_server_password, "notaryserver"),
        },
    });
    serde_json::to_string_pretty(&v).expect("static JSON")
}

pub fn signer_json(secrets: &Secrets) -> String {
    let v = json!({
        "server": {
            "grpc_addr": ":7899",
            "tls_cert_file": format!("{CONF_DIR}/notarysigner.crt"),
            "tls_key_file": format!("{CONF_DIR}/notarysigner.key"),
            // Setting a client CA is what makes the signer demand client certificates.
            "client_ca_file": format!("{CONF_DIR}/ca.crt"),
        },
        "logging": { "level": "info" },
        "storage": {
            "backend": "mysql",
            "db_url": db_url(SIGNER_DB_USER, &secrets.db_signer_password, "notarysigner"),
            "default_alias": SIGNER_ALIAS,
        },
    });
    serde_json::to_string_pretty(&v).expect("static JSON")
}

pub fn registry_yml() -> String {
    "version: 0.1\n\
log:\n  level: info\n\
storage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  delete:\n    enabled: true\n\
http:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\n"
        .to_string()
}

/// The client's dockerd: the sandbox registry (`host:port`) speaks plain HTTP.
pub fn daemon_json(registry: &str) -> String {
    serde_json::to_string_pretty(&json!({ "insecure-registries": [registry] })).expect("static JSON")
}

pub const DB_START_SH: &str = include_str!("../../data/db-start.sh");

pub fn all(secrets: &Secrets, spec: &Spec) -> Result<Vec<Rendered>> {
    let r = |file: &str, content: String, secret: bool| Rendered { file: file.to_string(), content, secret };
    let mut out = vec![
        r("server.json", server_json(secrets), true),
        r("signer.json", signer_json(secrets), true),
        r("registry.yml", registry_yml(), false),
        r("daemon.json", daemon_json(&spec.registry_address()?), false),
        r("db-start.sh", DB_START_SH.to_string(), false),
    ];
    // A service's secret environment (the signer's key passphrase), as a 0600 file its command
    // exports: passed as `-e`, it would show in `inspect`.
    for svc in spec.services.iter().filter(|s| !s.secret_env.is_empty()) {
        out.push(r(&super::secret_env_file_name(&svc.name), super::secret_env_script(svc, secrets)?, true));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets {
            db_server_password: "srvpw".into(),
            db_signer_password: "sigpw".into(),
            signer_alias_passphrase: "alias".into(),
            trust_root_passphrase: "root".into(),
            trust_repository_passphrase: "repo".into(),
        }
    }

    #[test]
    fn server_talks_to_signer_with_mutual_tls_and_its_own_db_user() {
        let v: serde_json::Value = serde_json::from_str(&server_json(&secrets())).unwrap();
        assert_eq!(v["trust_service"]["type"], "remote");
        assert_eq!(v["trust_service"]["hostname"], "notarysigner");
        assert_eq!(v["trust_service"]["tls_client_cert"], "/etc/sandbox/notaryserver.crt");
        assert_eq!(v["storage"]["db_url"], "notaryserver:srvpw@tcp(db:3306)/notaryserver?parseTime=True");
        assert_eq!(v["server"]["http_addr"], ":4443");
    }

    #[test]
    fn signer_requires_client_certs_and_names_its_alias() {
        let v: serde_json::Value = serde_json::from_str(&signer_json(&secrets())).unwrap();
        assert_eq!(v["server"]["client_ca_file"], "/etc/sandbox/ca.crt");
        assert_eq!(v["storage"]["default_alias"], "sandbox");
        assert_eq!(v["storage"]["db_url"], "notarysigner:sigpw@tcp(db:3306)/notarysigner?parseTime=True");
        // The signer reads the alias passphrase from NOTARY_SIGNER_<ALIAS>; the table must pass it.
        let spec = crate::table::load().unwrap();
        let signer = spec.service("notarysigner").unwrap();
        assert!(signer.secret_env.contains_key(&format!("NOTARY_SIGNER_{}", SIGNER_ALIAS.to_uppercase())));
    }

    #[test]
    fn passphrases_stay_out_of_configs() {
        for r in all(&secrets(), &crate::table::load().unwrap()).unwrap() {
            if r.file.ends_with(".secret-env") {
                // The one place the signer's passphrase is written: a 0600 file of exports.
                assert!(r.secret, "{}", r.file);
                assert_eq!(r.content, "export NOTARY_SIGNER_SANDBOX='alias'\n", "{}", r.file);
                continue;
            }
            for p in ["alias", "root", "repo"] {
                assert!(!r.content.contains(&format!("\"{p}\"")), "{} holds {p}", r.file);
            }
            assert_eq!(r.secret, r.content.contains("pw@"), "{}", r.file);
        }
    }

    #[test]
    fn client_daemon_trusts_the_tables_registry_over_http() {
        let mut spec = crate::table::load().unwrap();
        let rendered = all(&secrets(), &spec).unwrap();
        let daemon = rendered.iter().find(|r| r.file == "daemon.json").unwrap();
        let v: serde_json::Value = serde_json::from_str(&daemon.content).unwrap();
        assert_eq!(v["insecure-registries"], serde_json::json!(["sandboxregistry:5000"]));

        spec.services.iter_mut().find(|s| s.name == "registry").unwrap().aliases = vec!["elsewhere".into()];
        let rendered = all(&secrets(), &spec).unwrap();
        let daemon = rendered.iter().find(|r| r.file == "daemon.json").unwrap();
        assert!(daemon.content.contains("\"elsewhere:5000\""), "{}", daemon.content);
    }

    #[test]
    fn registry_stores_on_the_volume_path() {
        let y = registry_yml();
        assert!(y.contains("rootdirectory: /var/lib/registry") && y.contains("addr: :5000"));
    }

    /// Runs db-start.sh with stub server binaries (each logs its argv) on a PATH without the real
    /// ones, and its fixed paths moved into a scratch directory. Returns the calls, one a line.
    fn db_start(dir: &std::path::Path, flavour: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.join("calls");
        let datadir = dir.join("data");
        // Initialisers create the system schema directory, as the real ones do.
        let init = r#"for a; do case $a in --datadir=*) mkdir -p "${a#--datadir=}/mysql";; esac; done"#;
        let mut stubs = vec![("chown", String::new())];
        match flavour {
            "mariadb" => {
                stubs.push(("mariadbd", String::new()));
                stubs.push(("mariadb-install-db", init.to_string()));
            }
            _ => stubs.push(("mysqld", format!(r#"case "$1" in --initialize-insecure) {init};; esac"#))),
        }
        for (name, body) in stubs {
            let path = bin.join(name);
            let script = format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}\n", log.display());
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let script = DB_START_SH
            .replace("/var/lib/mysql", &datadir.display().to_string())
            .replace("/run/mysqld", &dir.join("run").display().to_string());
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(&log).unwrap_or_default()
    }

    #[test]
    fn db_start_initialises_mariadb_once_then_runs_it_on_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let first = db_start(dir.path(), "mariadb");
        let calls: Vec<&str> = first.lines().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(calls, ["chown", "mariadb-install-db", "mariadbd"], "{first}");
        assert!(first.contains("--auth-root-authentication-method=socket"), "{first}");
        assert!(first.contains(&format!("--socket={}/run/mysqld.sock", dir.path().display())), "{first}");

        let second = db_start(dir.path(), "mariadb");
        let again: Vec<&str> = second.lines().skip(3).map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(again, ["chown", "mariadbd"], "the datadir exists: no second initialisation\n{second}");
    }

    #[test]
    fn db_start_without_mariadb_runs_mysql_with_native_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let log = db_start(dir.path(), "mysql");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(lines[1].starts_with("mysqld --initialize-insecure"), "{log}");
        assert!(
            lines[2].starts_with("mysqld --user=mysql") && lines[2].contains("--mysql-native-password=ON"),
            "{log}"
        );
    }
}
