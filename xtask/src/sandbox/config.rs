//! Service configuration rendered from the state (ports, users, secrets, PKI paths). Pure: returns
//! file names and contents; `stack` writes them and mounts each into its one service.

use serde_json::json;

use crate::sandbox::state::Secrets;

/// Where things are inside the containers.
pub const CONF_DIR: &str = "/etc/sandbox";
pub const SIGNER_ALIAS: &str = "sandbox";
pub const DB_HOST: &str = "db";
pub const SERVER_DB_USER: &str = "notaryserver";
pub const SIGNER_DB_USER: &str = "notarysigner";
pub const REGISTRY_NAME: &str = "sandboxregistry:5000";
pub const SERVER_URL: &str = "https://notaryserver:4443";

pub struct Rendered {
    pub file: &'static str,
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

pub fn daemon_json() -> String {
    serde_json::to_string_pretty(&json!({ "insecure-registries": [REGISTRY_NAME] })).expect("static JSON")
}

pub const DB_START_SH: &str = include_str!("../../data/db-start.sh");

pub fn all(secrets: &Secrets) -> Vec<Rendered> {
    vec![
        Rendered { file: "server.json", content: server_json(secrets), secret: true },
        Rendered { file: "signer.json", content: signer_json(secrets), secret: true },
        Rendered { file: "registry.yml", content: registry_yml(), secret: false },
        Rendered { file: "daemon.json", content: daemon_json(), secret: false },
        Rendered { file: "db-start.sh", content: DB_START_SH.to_string(), secret: false },
    ]
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
        let spec = crate::sandbox::spec::load().unwrap();
        let signer = spec.service("notarysigner").unwrap();
        assert!(signer.secret_env.contains_key(&format!("NOTARY_SIGNER_{}", SIGNER_ALIAS.to_uppercase())));
    }

    #[test]
    fn passphrases_stay_out_of_configs() {
        for r in all(&secrets()) {
            for p in ["alias", "root", "repo"] {
                assert!(!r.content.contains(&format!("\"{p}\"")), "{} holds {p}", r.file);
            }
            assert_eq!(r.secret, r.content.contains("pw@"), "{}", r.file);
        }
    }

    #[test]
    fn client_daemon_trusts_the_sandbox_registry_over_http() {
        let v: serde_json::Value = serde_json::from_str(&daemon_json()).unwrap();
        assert_eq!(v["insecure-registries"][0], "sandboxregistry:5000");
    }

    #[test]
    fn registry_stores_on_the_volume_path() {
        let y = registry_yml();
        assert!(y.contains("rootdirectory: /var/lib/registry") && y.contains("addr: :5000"));
    }

    #[test]
    fn db_start_handles_both_server_flavours() {
        assert!(DB_START_SH.contains("mariadbd") && DB_START_SH.contains("mysqld"));
    }
}
