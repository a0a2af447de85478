//! Service configuration rendered from the state (ports, users, secrets, PKI paths). Pure: returns
//! file names and contents; `lifecycle` writes them and mounts each into its one service.

use serde_json::json;

use anyhow::Result;

use super::state::{RegistryMode, Secrets, REGISTRY_USER};
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

pub fn registry_yml(mode: RegistryMode) -> String {
    let mut y = "version: 0.1\n\
log:\n  level: info\n\
storage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  delete:\n    enabled: true\n\
http:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\n"
        .to_string();
    if mode.tls {
        y.push_str(&format!("  tls:\n    certificate: {CONF_DIR}/registry.crt\n    key: {CONF_DIR}/registry.key\n"));
    }
    if mode.auth {
        // distribution 2.8's htpasswd accepts bcrypt hashes only.
        y.push_str(&format!("auth:\n  htpasswd:\n    realm: trust-sandbox\n    path: {CONF_DIR}/{HTPASSWD}\n"));
    }
    y
}

/// The client's dockerd: a plain-HTTP registry (`host:port`) is an insecure registry; a TLS one is
/// verified with the sandbox CA, which sandbox.json mounts into `/etc/docker/certs.d/<host:port>/`.
pub fn daemon_json(registry: &str, mode: RegistryMode) -> String {
    let v = if mode.tls { json!({}) } else { json!({ "insecure-registries": [registry] }) };
    serde_json::to_string_pretty(&v).expect("static JSON")
}

/// The registry's htpasswd file (under `config/`, 0600).
pub const HTPASSWD: &str = "registry.htpasswd";
/// The file the client's login reads the password from (under `config/`, 0600).
pub const PASSWORD_FILE: &str = "registry.password";
/// Where sandbox.json mounts it in the client; the login script reads it on stdin.
const PASSWORD_TARGET: &str = "/run/trust-sandbox/registry-password";
/// The client's login script (under `config/`), run beside its dockerd.
pub const LOGIN_SCRIPT: &str = "registry-login.sh";
/// Where sandbox.json mounts the login script; its presence makes readiness wait for the login.
pub const LOGIN_SCRIPT_TARGET: &str = "/etc/sandbox/registry-login.sh";
/// Written by the login script once `docker login` succeeded.
pub const LOGIN_DONE: &str = "/run/registry-login.done";
/// bcrypt's cost for the htpasswd line. distribution compares the password on every request (a
/// push makes about ten), so the cost is paid per request; Apache's `htpasswd -B` uses 5 too. The
/// password is 128 random bits: guessing it is not what a higher cost would slow down.
const BCRYPT_COST: u32 = 5;

/// `user:bcrypt-hash`, reusing `existing` when it still verifies `password`, so that `up` does not
/// rewrite the file (a new salt would change the registry's config hash and recreate it).
pub fn htpasswd(existing: Option<&str>, password: &str) -> anyhow::Result<String> {
    if let Some(line) = existing {
        if let Some(hash) = line.trim().strip_prefix(&format!("{REGISTRY_USER}:")) {
            if bcrypt::verify(password, hash).unwrap_or(false) {
                return Ok(line.to_string());
            }
        }
    }
    let hash = bcrypt::hash(password, BCRYPT_COST)?;
    Ok(format!("{REGISTRY_USER}:{hash}\n"))
}

/// Run in the background by the client's command: waits for its dockerd, then `docker login`
/// with the password on stdin (never argv), and a `~/.netrc` for curl. Bounded: a registry that
/// refuses the password for a minute leaves the client unready, and `up` reports its log.
pub fn registry_login_sh(registry: &str) -> String {
    let host = registry.split(':').next().unwrap_or(registry);
    format!(
        "#!/bin/sh\n\
         # Logs the client's docker CLI in to the sandbox registry once its own dockerd answers.\n\
         i=0\n\
         until docker info >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 600 ] || exit 1; sleep 0.1; done\n\
         i=0\n\
         until docker login --username {REGISTRY_USER} --password-stdin {registry} <{PASSWORD_TARGET}; do\n\
         \x20 i=$((i+1)); [ $i -lt 60 ] || exit 1; sleep 1\n\
         done\n\
         umask 077\n\
         # curl --netrc-optional (scenario steps that ask the registry's API) finds the password here.\n\
         printf 'machine {host} login {REGISTRY_USER} password %s\\n' \"$(cat {PASSWORD_TARGET})\" >/root/.netrc\n\
         touch {LOGIN_DONE}\n"
    )
}

/// A docker `config.json` for host tools (`--docker-config`, `DOCKER_CONFIG`): basic auth for
/// each address the registry is reached by from the host.
pub fn host_docker_config(addresses: &[String], password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{REGISTRY_USER}:{password}"));
    let auths: serde_json::Map<String, serde_json::Value> =
        addresses.iter().map(|a| (a.clone(), json!({ "auth": auth }))).collect();
    serde_json::to_string_pretty(&json!({ "auths": auths })).expect("static JSON")
}

pub const DB_START_SH: &str = include_str!("../../data/db-start.sh");

pub fn all(secrets: &Secrets, spec: &Spec, mode: RegistryMode) -> Result<Vec<Rendered>> {
    let r = |file: &str, content: String, secret: bool| Rendered { file: file.to_string(), content, secret };
    let mut out = vec![
        r("server.json", server_json(secrets), true),
        r("signer.json", signer_json(secrets), true),
        r("registry.yml", registry_yml(mode), false),
        r("daemon.json", daemon_json(&spec.registry_address()?, mode), false),
        r("db-start.sh", DB_START_SH.to_string(), false),
    ];
    if mode.auth {
        if secrets.registry_password.is_empty() {
            anyhow::bail!("secrets.json holds no registry password, which --registry-auth needs");
        }
        out.push(r(LOGIN_SCRIPT, registry_login_sh(&spec.registry_address()?), false));
        out.push(r(PASSWORD_FILE, secrets.registry_password.clone(), true));
    }
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
            registry_password: String::new(),
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
        for r in all(&secrets(), &crate::table::load().unwrap(), RegistryMode::default()).unwrap() {
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
        let rendered = all(&secrets(), &spec, RegistryMode::default()).unwrap();
        let daemon = rendered.iter().find(|r| r.file == "daemon.json").unwrap();
        let v: serde_json::Value = serde_json::from_str(&daemon.content).unwrap();
        assert_eq!(v["insecure-registries"], serde_json::json!(["sandboxregistry:5000"]));

        spec.services.iter_mut().find(|s| s.name == "registry").unwrap().aliases = vec!["elsewhere".into()];
        let rendered = all(&secrets(), &spec, RegistryMode::default()).unwrap();
        let daemon = rendered.iter().find(|r| r.file == "daemon.json").unwrap();
        assert!(daemon.content.contains("\"elsewhere:5000\""), "{}", daemon.content);
    }

    #[test]
    fn registry_stores_on_the_volume_path() {
        let y = registry_yml(RegistryMode::default());
        assert!(y.contains("rootdirectory: /var/lib/registry") && y.contains("addr: :5000"));
        assert!(!y.contains("tls:") && !y.contains("auth:"), "{y}");
    }

    #[test]
    fn a_tls_registry_with_auth_serves_the_leaf_and_checks_htpasswd() {
        let mode = RegistryMode { tls: true, auth: true };
        let y = registry_yml(mode);
        let v: serde_json::Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(v["http"]["tls"]["certificate"], "/etc/sandbox/registry.crt");
        assert_eq!(v["http"]["tls"]["key"], "/etc/sandbox/registry.key");
        assert_eq!(v["auth"]["htpasswd"]["path"], "/etc/sandbox/registry.htpasswd");
        assert_eq!(v["http"]["addr"], ":5000");
        // The client's dockerd no longer treats it as insecure.
        assert_eq!(daemon_json("sandboxregistry:5000", mode), "{}");
        let mut s = secrets();
        assert!(all(&s, &crate::table::load().unwrap(), mode).is_err(), "auth without a password");
        s.registry_password = "pw-0123456789abcdef".into();
        let rendered = all(&s, &crate::table::load().unwrap(), mode).unwrap();
        let password = rendered.iter().find(|r| r.file == PASSWORD_FILE).unwrap();
        assert!(password.secret && password.content == "pw-0123456789abcdef");
        let login = rendered.iter().find(|r| r.file == LOGIN_SCRIPT).unwrap();
        assert!(!login.secret && !login.content.contains("pw-0123"), "the script reads the password, never holds it");
        assert!(login.content.contains("--password-stdin sandboxregistry:5000 </run/trust-sandbox/registry-password"));
    }

    #[test]
    fn htpasswd_is_bcrypt_and_kept_while_it_verifies() {
        let line = htpasswd(None, "secret-1").unwrap();
        assert!(line.starts_with("sandbox:$2"), "{line}");
        assert!(bcrypt::verify("secret-1", line.trim().strip_prefix("sandbox:").unwrap()).unwrap());
        assert_eq!(htpasswd(Some(&line), "secret-1").unwrap(), line, "same password: same file");
        assert_ne!(htpasswd(Some(&line), "secret-2").unwrap(), line, "a changed password is re-hashed");
        assert!(htpasswd(Some("garbage"), "secret-1").unwrap().starts_with("sandbox:$2"));
    }

    #[test]
    fn the_login_script_logs_in_with_the_password_on_stdin_and_writes_a_netrc() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.path().join("calls");
        let docker =
            format!("#!/bin/sh\necho \"docker $* stdin=$( [ \"$1\" = login ] && cat)\" >> '{}'\n", log.display());
        std::fs::write(bin.join("docker"), docker).unwrap();
        std::fs::set_permissions(bin.join("docker"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("pw"), "hunter2-secret").unwrap();
        let script = registry_login_sh("sandboxregistry:5000")
            .replace(PASSWORD_TARGET, &dir.path().join("pw").display().to_string())
            .replace("/root/.netrc", &dir.path().join("netrc").display().to_string())
            .replace(LOGIN_DONE, &dir.path().join("done").display().to_string());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(
            calls
                .contains("docker login --username sandbox --password-stdin sandboxregistry:5000 stdin=hunter2-secret"),
            "{calls}"
        );
        let netrc = std::fs::read_to_string(dir.path().join("netrc")).unwrap();
        assert_eq!(netrc, "machine sandboxregistry login sandbox password hunter2-secret\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("netrc")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
        assert!(dir.path().join("done").exists());
    }

    #[test]
    fn the_host_docker_config_holds_basic_auth_for_each_address() {
        let c = host_docker_config(&["127.0.0.1:15000".into(), "localhost:15000".into()], "pw");
        let v: serde_json::Value = serde_json::from_str(&c).unwrap();
        // base64("sandbox:pw")
        assert_eq!(v["auths"]["127.0.0.1:15000"]["auth"], "c2FuZGJveDpwdw==");
        assert_eq!(v["auths"]["localhost:15000"]["auth"], "c2FuZGJveDpwdw==");
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
