//! The sandbox's state directory: identity, ports, secrets, PKI and rendered configs. It survives
//! `down` (trust data and keys are never lost on restart) and is removed only by `destroy`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::EngineKind;
pub use crate::table::RegistryMode;
use crate::util::{make_private_dir, now_rfc3339, random_hex, write_private};

pub const SCHEMA: &str = "trust-sandbox/state/v1";
const STATE_FILE: &str = "state.json";
const SECRETS_FILE: &str = "secrets.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub schema: String,
    pub name: String,
    /// Random per sandbox: names the CA and labels everything, so a foreign sandbox is recognised.
    pub id: String,
    pub engine: EngineKind,
    pub server_port: u16,
    pub registry_port: u16,
    pub created_at: String,
    /// Which daemon the client's docker CLI drives; chosen at `up`, remembered for the next.
    #[serde(default)]
    pub client: ClientMode,
    /// How the registry is reached: plain HTTP (the guide's), or TLS and basic auth (a stand-in
    /// for a registry someone owns). Fixed when the sandbox is created, like the ports.
    #[serde(default, skip_serializing_if = "RegistryMode::is_plain")]
    pub registry: RegistryMode,
}

/// The one account of a registry with basic auth.
pub const REGISTRY_USER: &str = "sandbox";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClientMode {
    /// The client runs its own dockerd: nothing touches the host's images (both engines).
    #[default]
    OwnDaemon,
    /// The client drives the host's dockerd through its socket, as the guide did (docker only).
    HostDaemon,
}

/// Generated once per sandbox; the file is 0600 and its values are never printed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secrets {
    pub db_server_password: String,
    pub db_signer_password: String,
    pub signer_alias_passphrase: String,
    pub trust_root_passphrase: String,
    pub trust_repository_passphrase: String,
    /// The registry's basic-auth password (used only with `--registry-auth`). Sandboxes created
    /// before it existed have none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registry_password: String,
}

impl Secrets {
    fn generate() -> Result<Secrets> {
        Ok(Secrets {
            db_server_password: random_hex(16)?,
            db_signer_password: random_hex(16)?,
            signer_alias_passphrase: random_hex(24)?,
            trust_root_passphrase: random_hex(24)?,
            trust_repository_passphrase: random_hex(24)?,
            registry_password: random_hex(16)?,
        })
    }

    pub fn values(&self) -> Vec<String> {
        [
            &self.db_server_password,
            &self.db_signer_password,
            &self.signer_alias_passphrase,
            &self.trust_root_passphrase,
            &self.trust_repository_passphrase,
            &self.registry_password,
        ]
        .into_iter()
        .filter(|v| !v.is_empty())
        .cloned()
        .collect()
    }

    /// What the docker and notary CLIs read instead of prompting.
    pub fn client_env(&self) -> Vec<(String, String)> {
        let root = &self.trust_root_passphrase;
        let repo = &self.trust_repository_passphrase;
        [
            ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", root),
            ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", repo),
            ("NOTARY_ROOT_PASSPHRASE", root),
            ("NOTARY_TARGETS_PASSPHRASE", repo),
            ("NOTARY_SNAPSHOT_PASSPHRASE", repo),
            ("NOTARY_DELEGATION_PASSPHRASE", repo),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }
}

/// Where every sandbox's state lives. Without `TRUST_SANDBOX_STATE`, `XDG_STATE_HOME` or `HOME`
/// there is no per-user place, and a system-wide guess would be a second state directory for the
/// same sandboxes (one that could take them over): refused.
pub fn root_dir() -> Result<PathBuf> {
    // Absolute: the path is recorded on every engine object as its owner.
    if let Some(dir) = std::env::var_os("TRUST_SANDBOX_STATE").filter(|d| !d.is_empty()) {
        return std::path::absolute(&dir).with_context(|| format!("resolving TRUST_SANDBOX_STATE={}", dir.display()));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".local/state")))
        .context(
            "HOME is not set, nor XDG_STATE_HOME or TRUST_SANDBOX_STATE: there is no state directory to use. Set HOME (or TRUST_SANDBOX_STATE=DIR) to the one that holds your sandboxes",
        )?;
    Ok(std::path::absolute(base)?.join("trust-sandbox"))
}

pub struct Dir {
    pub path: PathBuf,
}

/// A `state.json` that was read but is not a state this tool can use.
#[derive(Debug)]
pub struct Corrupt(pub String);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Corrupt {}

impl Dir {
    /// The state directory of a sandbox; `name` was checked against the name rule by the parser,
    /// and is checked again here, so no caller can make it reach outside the root.
    pub fn for_name(name: &str) -> Result<Dir> {
        super::name::validate(name)?;
        Ok(Dir { path: root_dir()?.join(name) })
    }

    pub fn pki(&self) -> PathBuf {
        self.path.join("pki")
    }

    pub fn config(&self) -> PathBuf {
        self.path.join("config")
    }

    /// A `DOCKER_CONFIG` directory whose `config.json` logs host tools in to a registry with
    /// basic auth (0700, the file 0600); only sandboxes made with `--registry-auth` have one.
    pub fn docker_config_dir(&self) -> PathBuf {
        self.path.join("docker")
    }

    /// Reads the state, refusing a directory that is not ours or is damaged. A `state.json` whose
    /// content is damaged is a [`Corrupt`] error (`destroy` may start over from it); one that cannot
    /// be read at all (permissions, an I/O error) is another error, which nothing treats as absent.
    pub fn load(&self) -> Result<Option<State>> {
        let file = self.path.join(STATE_FILE);
        let present = file.try_exists().with_context(|| format!("cannot read {}", file.display()))?;
        if !present {
            let dir_present = self.path.try_exists().with_context(|| format!("cannot read {}", self.path.display()))?;
            if dir_present && std::fs::read_dir(&self.path)?.next().is_some() {
                bail!(
                    "{} exists but holds no {STATE_FILE}: it is not a trust-sandbox state directory (or a corrupt one). Move it away, or point TRUST_SANDBOX_STATE elsewhere",
                    self.path.display()
                );
            }
            return Ok(None);
        }
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "cannot read {} (its sandbox is not treated as absent): fix the permissions or the disk",
                file.display()
            )
        })?;
        let state: State = serde_json::from_str(&text).map_err(|e| {
            anyhow::Error::new(Corrupt(format!(
                "corrupt state file {}: run `cargo xtask sandbox destroy` to start over ({e})",
                file.display()
            )))
        })?;
        if state.schema != SCHEMA {
            return Err(Corrupt(format!(
                "{} has schema `{}`, this tool reads `{SCHEMA}`: use the matching version, or `destroy`",
                file.display(),
                state.schema
            ))
            .into());
        }
        Ok(Some(state))
    }

    /// A new sandbox's state and secrets. `state.json` is created exclusively: two commands can
    /// never both create the same sandbox (with two ids and two CAs).
    pub fn create(
        &self,
        name: &str,
        engine: EngineKind,
        (server_port, registry_port): (u16, u16),
        registry: RegistryMode,
    ) -> Result<State> {
        make_private_dir(&self.path)?;
        let state = State {
            schema: SCHEMA.to_string(),
            name: name.to_string(),
            id: random_hex(6)?,
            engine,
            server_port,
            registry_port,
            created_at: now_rfc3339(),
            client: ClientMode::default(),
            registry,
        };
        let file = self.path.join(STATE_FILE);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .with_context(|| format!("creating {} (another command created this sandbox?)", file.display()))?;
        f.write_all(serde_json::to_string_pretty(&state)?.as_bytes())?;
        f.sync_all()?;
        self.generate_secrets()?;
        Ok(state)
    }

    pub fn save(&self, state: &State) -> Result<()> {
        write_private(&self.path.join(STATE_FILE), serde_json::to_string_pretty(state)?.as_bytes())
    }

    pub fn secrets_file(&self) -> PathBuf {
        self.path.join(SECRETS_FILE)
    }

    /// The sandbox's secrets. A missing file is an error, never a reason to make new ones: the
    /// DB passwords and key passphrases in the existing trust data would no longer match.
    pub fn secrets(&self) -> Result<Secrets> {
        let file = self.secrets_file();
        if !file.exists() {
            bail!(
                "{} is missing: the sandbox's trust data (DB passwords, key passphrases) cannot be used without it, and new secrets would lock it out. Restore the file, or `cargo xtask sandbox destroy` to start over",
                file.display()
            );
        }
        let mode = std::fs::metadata(&file)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!("{} is readable by others (mode {:o}); fix with chmod 600", file.display(), mode & 0o777);
        }
        let text = std::fs::read_to_string(&file)?;
        serde_json::from_str(&text).with_context(|| {
            format!("corrupt {}: restore it, or `cargo xtask sandbox destroy` to start over", file.display())
        })
    }

    /// New secrets, only where none exist; `up` calls it for a state that has no trust data yet.
    pub fn generate_secrets(&self) -> Result<Secrets> {
        let s = Secrets::generate()?;
        let file = self.secrets_file();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .with_context(|| format!("creating {}", file.display()))?;
        f.write_all(serde_json::to_string_pretty(&s)?.as_bytes())?;
        f.sync_all()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load_round_trips_and_secrets_are_private_and_stable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir { path: tmp.path().join("sb") };
        assert!(dir.load().unwrap().is_none());
        let s = dir.create("sb", EngineKind::Podman, (4443, 5000), RegistryMode::default()).unwrap();
        assert_eq!(dir.load().unwrap().unwrap(), s);
        assert!(
            dir.create("sb", EngineKind::Podman, (4443, 5000), RegistryMode::default()).is_err(),
            "a second create must not replace the first"
        );
        let a = dir.secrets().unwrap();
        let b = dir.secrets().unwrap();
        assert_eq!(a.trust_root_passphrase, b.trust_root_passphrase);
        assert_ne!(a.trust_root_passphrase, a.trust_repository_passphrase);
        let mode = std::fs::metadata(dir.path.join(SECRETS_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir.path).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_state_from_before_the_registry_modes_reads_as_plain_and_is_written_back_the_same() {
        let old = r#"{"schema":"trust-sandbox/state/v1","name":"sb","id":"abc","engine":"docker","server_port":4443,"registry_port":5000,"created_at":"x","client":"own-daemon"}"#;
        let s: State = serde_json::from_str(old).unwrap();
        assert!(s.registry.is_plain());
        assert_eq!(s.registry.scheme(), "http");
        assert!(!serde_json::to_string(&s).unwrap().contains("registry\""), "a plain state keeps its old shape");
        let tls = RegistryMode { tls: true, auth: true };
        assert_eq!(tls.scheme(), "https");
        assert_eq!(tls.flags(), "--registry-tls --registry-auth");
        let old_secrets = r#"{"db_server_password":"a","db_signer_password":"b","signer_alias_passphrase":"c","trust_root_passphrase":"d","trust_repository_passphrase":"e"}"#;
        let s: Secrets = serde_json::from_str(old_secrets).unwrap();
        assert_eq!(s.values(), ["a", "b", "c", "d", "e"], "no empty value to mask");
        assert_eq!(Secrets::generate().unwrap().values().len(), 6);
    }

    #[test]
    fn foreign_and_corrupt_dirs_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
        let err = Dir { path: tmp.path().to_path_buf() }.load().unwrap_err().to_string();
        assert!(err.contains("not a trust-sandbox state directory"), "{err}");

        std::fs::write(tmp.path().join(STATE_FILE), "{not json").unwrap();
        let err = Dir { path: tmp.path().to_path_buf() }.load().unwrap_err();
        assert!(format!("{err:#}").contains("corrupt state file"), "{err:#}");
        assert!(err.downcast_ref::<Corrupt>().is_some(), "corrupt content is told apart");

        // Unreadable (a directory where the file should be: root reads every file): not corrupt.
        std::fs::remove_file(tmp.path().join(STATE_FILE)).unwrap();
        std::fs::create_dir(tmp.path().join(STATE_FILE)).unwrap();
        let err = Dir { path: tmp.path().to_path_buf() }.load().unwrap_err();
        assert!(err.downcast_ref::<Corrupt>().is_none() && format!("{err:#}").contains("cannot read"), "{err:#}");
    }

    #[test]
    fn world_readable_secrets_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir { path: tmp.path().to_path_buf() };
        dir.generate_secrets().unwrap();
        std::fs::set_permissions(tmp.path().join(SECRETS_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(dir.secrets().unwrap_err().to_string().contains("chmod 600"));
    }

    #[test]
    fn missing_secrets_are_refused_not_regenerated() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir { path: tmp.path().to_path_buf() };
        let err = dir.secrets().unwrap_err().to_string();
        assert!(err.contains("secrets.json is missing"), "{err}");
        assert!(!dir.secrets_file().exists(), "regenerated");
        dir.generate_secrets().unwrap();
        assert!(dir.generate_secrets().is_err(), "existing secrets must never be replaced");
    }

    #[test]
    fn client_env_never_leaves_a_prompt_unanswered() {
        let s = Secrets::generate().unwrap();
        let names: Vec<String> = s.client_env().into_iter().map(|(k, _)| k).collect();
        for n in [
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
            "NOTARY_ROOT_PASSPHRASE",
            "NOTARY_TARGETS_PASSPHRASE",
            "NOTARY_SNAPSHOT_PASSPHRASE",
        ] {
            assert!(names.contains(&n.to_string()), "{n}");
        }
        assert_eq!(random_hex(8).unwrap().len(), 16);
    }
}
