//! The running sandbox: one instance of the service table on one engine, with its state
//! directory. The `Sandbox` type names its containers, volumes and network and runs commands in
//! them; the parts of its life live beside it.

pub mod config;
pub mod crash;
pub mod db;
pub mod down;
pub mod labels;
pub mod lifecycle;
pub mod lock;
pub mod look;
pub mod name;
pub mod owned;
pub mod ownership;
pub mod pki;
pub mod ports;
pub mod readiness;
pub mod repair;
pub mod schema;
pub mod state;
pub mod status;
pub mod waves;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::Shell;

use crate::engine::{objects, Engine, EngineKind, EnvVar, Mount, Output, RunSpec};
use crate::images::{self, SourceKind};
use crate::table::{Service, Spec};
pub use labels::{LABEL_CONFIG, LABEL_ID, LABEL_INSTANCE, LABEL_SERVICE, LABEL_STATE};
use state::{ClientMode, Secrets, State};

/// Services that die by themselves come back; a `stop` (scenario actions, `down`) is respected.
/// Measured on docker 28 and on podman 4.3 without systemd (conmon restarts it): a SIGKILLed
/// service is running again within a second, a stopped one stays stopped.
pub const RESTART_POLICY: &str = "unless-stopped";
pub const DEFAULT_NAME: &str = "trust-sandbox";
pub const DEFAULT_SERVER_PORT: u16 = 4443;
pub const DEFAULT_REGISTRY_PORT: u16 = 5000;
const HOST_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Where a service's secret environment file is mounted (read-only).
const SECRET_ENV_TARGET: &str = "/run/trust-sandbox/secret-env";

/// The name, under `config/`, of a service's secret environment file.
pub fn secret_env_file_name(service: &str) -> String {
    format!("{service}.secret-env")
}

/// `export NAME='value'` lines for a service's `secret_env`, read by its command's wrapper.
pub fn secret_env_script(svc: &Service, secrets: &Secrets) -> Result<String> {
    let secret_json = serde_json::to_value(secrets)?;
    let mut script = String::new();
    for (k, field) in &svc.secret_env {
        let value = secret_json[field].as_str().with_context(|| format!("unknown secret `{field}` in sandbox.json"))?;
        script.push_str(&crate::util::shell_export(k, value));
    }
    Ok(script)
}

/// An existing sandbox: its name, state directory and recorded state, the engine it lives on
/// and the service table it runs.
pub struct Sandbox {
    pub name: String,
    pub dir: state::Dir,
    pub state: State,
    pub engine: Engine,
    pub spec: Spec,
}

/// Which sandbox a command means: `--name` and, if given, `--engine`.
#[derive(Debug, Clone)]
pub struct Selector {
    pub name: String,
    pub engine: Option<EngineKind>,
}

/// What `up` was asked for; ports and client mode apply when the sandbox is created.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub images: SourceKind,
    pub image_opts: images::Options,
    pub server_port: Option<u16>,
    pub registry_port: Option<u16>,
    pub client: Option<ClientMode>,
    /// The docker CLI the client runs: `None` keeps the sandbox's (the image's own at first),
    /// `Some(None)` goes back to the image's own, `Some(Some(c))` picks `c`.
    pub client_cli: Option<Option<crate::images::client_cli::Choice>>,
    /// TLS and basic auth for the registry (applies when the sandbox is created).
    pub registry: state::RegistryMode,
    pub yes: bool,
}

impl Sandbox {
    /// The existing sandbox named by `sel`, or None when it was never created (or destroyed).
    pub fn open(sh: &Shell, sel: &Selector) -> Result<Option<Sandbox>> {
        Ok(Sandbox::open_surveyed(sh, sel)?.map(|(sb, _)| sb))
    }

    /// [`Sandbox::open`], also returning the objects of this name it found and checked (`down`
    /// removes those without asking the engine again).
    pub fn open_surveyed(sh: &Shell, sel: &Selector) -> Result<Option<(Sandbox, Vec<objects::Object>)>> {
        let dir = state::Dir::for_name(&sel.name)?;
        let Some(state) = dir.load()? else {
            return Ok(None);
        };
        let engine = Engine::for_sandbox_unasked(sh, &sel.name, sel.engine, Some(state.engine), "work with")?;
        let spec = crate::table::load()?;
        // Containers, network and volumes of this name must be this state's, whatever the command.
        let found = engine.beside_answer(|| ownership::survey(sh, &engine, &spec, &sel.name, false))?;
        let ours =
            ownership::check(found, &ownership::Claim { name: &sel.name, id: Some(&state.id), dir: &dir.path }, false)?;
        Ok(Some((Sandbox { name: sel.name.clone(), dir, state, engine, spec }, ours)))
    }

    pub fn open_required(sh: &Shell, sel: &Selector) -> Result<Sandbox> {
        let root = state::root_dir()?;
        Sandbox::open(sh, sel)?.with_context(|| {
            format!("no sandbox named `{}` (state in {}): run `cargo xtask sandbox up` first", sel.name, root.display())
        })
    }

    /// This state's claim on its engine objects.
    pub fn claim(&self) -> ownership::Claim<'_> {
        ownership::Claim { name: &self.name, id: Some(&self.state.id), dir: &self.dir.path }
    }

    pub fn container(&self, service: &str) -> String {
        name::object(&self.name, service)
    }

    pub fn network(&self) -> String {
        self.name.clone()
    }

    pub fn volume(&self, v: &str) -> String {
        name::object(&self.name, v)
    }

    /// Name, id and owning state directory: enough to tell, later, whose an object is.
    pub fn labels(&self, service: Option<&str>) -> Vec<(String, String)> {
        let mut l = vec![
            (LABEL_INSTANCE.to_string(), self.name.clone()),
            (LABEL_ID.to_string(), self.state.id.clone()),
            (LABEL_STATE.to_string(), self.dir.path.display().to_string()),
        ];
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

    /// The registry's `host:port` as the client's images name it (the first part of every GUN):
    /// the service table's address; in host-daemon mode the host's dockerd reaches the registry
    /// by its published port (where the registry also listens inside its network).
    pub fn client_registry(&self) -> Result<String> {
        match self.state.client {
            ClientMode::OwnDaemon => self.spec.registry_address(),
            ClientMode::HostDaemon => {
                Ok(format!("{}:{}", self.spec.published("registry_port")?.0.network_name(), self.state.registry_port))
            }
        }
    }

    pub fn secrets(&self) -> Result<Secrets> {
        self.dir.secrets()
    }

    /// The 0600 file holding a service's `secret_env` as shell exports (rendered with the configs).
    pub fn secret_env_file(&self, service: &str) -> PathBuf {
        self.dir.config().join(secret_env_file_name(service))
    }

    /// The registry's API base as the client reaches it at `address` (`host:port`): `https://`
    /// for a sandbox made with `--registry-tls`.
    pub fn registry_url(&self, address: &str) -> String {
        format!("{}://{address}", self.state.registry.scheme())
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
        // Before the files: a file mounted below a tmpfs (the signer's secret env under /run)
        // lands on it. Both engines order mounts by depth too.
        mounts.extend(svc.tmpfs.iter().map(|t| Mount::Tmpfs { target: t.target.clone(), size_bytes: t.size_bytes() }));
        for f in svc.files.iter().filter(|f| f.active(self.state.registry)) {
            let source = self.dir.path.join(&f.from);
            if !source.exists() {
                bail!("{} is missing from the state directory (needed by {})", source.display(), svc.name);
            }
            mounts.push(Mount::Bind { source, target: f.to.clone(), readonly: true });
        }
        let env: Vec<EnvVar> =
            svc.env.iter().map(|(k, v)| EnvVar { name: k.clone(), value: v.clone(), secret: false }).collect();
        let mut command = svc.command.clone();
        if !svc.secret_env.is_empty() {
            // notary-signer reads its key passphrase from its environment only. Passed as `-e`, it
            // would show in `inspect` to anyone who can run the engine; instead a 0600 file is
            // mounted read-only and exported by the container's command just before the program.
            let file = self.secret_env_file(&svc.name);
            if !file.exists() {
                bail!("{} is missing from the state directory (needed by {})", file.display(), svc.name);
            }
            secret_env_script(svc, secrets)?; // fails on an unknown secret name, like `up` would
            mounts.push(Mount::Bind { source: file, target: SECRET_ENV_TARGET.into(), readonly: true });
            let wrapper = format!(". {SECRET_ENV_TARGET} && exec \"$@\"");
            command = ["sh".to_string(), "-c".into(), wrapper, "sh".into()].into_iter().chain(command).collect();
        }
        let mut env = env;
        let publish = svc
            .ports
            .iter()
            .filter_map(|p| {
                let which = p.publish.as_deref()?;
                let host = self.published_port(which)?;
                if which == "registry_port" && self.state.client == ClientMode::HostDaemon && host != p.container {
                    // The host's daemon and the client container must reach the registry by one
                    // name and port (`sandboxregistry:<port>` is in the image names they share):
                    // the registry listens inside on the port it is published on.
                    env.push(EnvVar { name: "REGISTRY_HTTP_ADDR".into(), value: format!(":{host}"), secret: false });
                    return Some((ports::LOOPBACK.to_string(), host, host));
                }
                Some((ports::LOOPBACK.to_string(), host, p.container))
            })
            .collect();
        if svc.nested_engine && self.state.client == ClientMode::HostDaemon {
            // The host's dockerd does the pulling and pushing; the container only holds the CLIs.
            mounts.push(Mount::Bind {
                source: HOST_DOCKER_SOCKET.into(),
                target: HOST_DOCKER_SOCKET.into(),
                readonly: false,
            });
            command = vec!["sleep".into(), "infinity".into()];
        }
        if svc.nested_engine && self.state.client == ClientMode::OwnDaemon && self.state.registry.auth {
            // The client's CLI logs in once its own dockerd answers: in the container's command,
            // so that the exported Compose file and pod do it too. dockerd stays PID 1.
            let wrapper = format!("sh {} & exec \"$@\"", config::LOGIN_SCRIPT_TARGET);
            command = ["sh".to_string(), "-c".into(), wrapper, "sh".into()].into_iter().chain(command).collect();
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
            restart: Some(RESTART_POLICY.to_string()),
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
        Ok(crate::util::hex(&h.finalize())[..16].to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_in_a_secret_reaches_the_service_exactly() {
        let table = crate::table::load().unwrap();
        let signer = table.services.iter().find(|s| !s.secret_env.is_empty()).expect("a service with secret_env");
        let tricky = "it's 'quoted' $HOME `id` \\ \"q\"";
        let secrets = Secrets {
            db_server_password: tricky.into(),
            db_signer_password: tricky.into(),
            signer_alias_passphrase: tricky.into(),
            trust_root_passphrase: tricky.into(),
            trust_repository_passphrase: tricky.into(),
            registry_password: tricky.into(),
        };
        let script = secret_env_script(signer, &secrets).unwrap();
        assert!(!script.contains(tricky), "the value is quoted: {script}");
        // Sourced as the container's command sources it, each variable holds the value exactly.
        for name in signer.secret_env.keys() {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{script}printf %s \"${name}\""))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), tricky, "{name}");
        }
    }
}
