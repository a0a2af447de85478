//! The service table: `xtask/data/sandbox.json`, shared with `nix/` so both image paths read one truth.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub mod readiness;
mod registry_mode;
pub mod waves;

pub use readiness::Readiness;
pub use registry_mode::{RegistryMode, When};

pub const SPEC_JSON: &str = include_str!("../../data/sandbox.json");

/// The project's source tree: where the flake, the lock and the scenarios live. A Nix-built binary
/// has no source tree of its own, so its wrapper names one with TRUST_SANDBOX_FLAKE.
pub fn source_root() -> std::path::PathBuf {
    match std::env::var_os("TRUST_SANDBOX_FLAKE") {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").into(),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Spec {
    pub project: String,
    pub versions: Versions,
    pub images: BTreeMap<String, ImageSpec>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Versions {
    pub notary: String,
    pub registry: String,
    pub docker_cli_max_major: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ImageSpec {
    pub description: String,
    pub cmd: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Service {
    pub name: String,
    pub image: String,
    /// The services that must be ready before this one starts (`up` starts the others in
    /// parallel; see `sandbox::waves`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    pub aliases: Vec<String>,
    pub ports: Vec<Port>,
    pub command: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    /// Memory-backed mounts, empty at every start: where the service's runtime state lives.
    #[serde(default)]
    pub tmpfs: Vec<TmpfsMount>,
    pub readiness: Readiness,
    /// State-dir files bind-mounted read-only: `from` is relative to the state dir.
    pub files: Vec<FileMount>,
    pub env: BTreeMap<String, String>,
    /// Container env name -> field of the sandbox's secrets; passed without touching argv.
    pub secret_env: BTreeMap<String, String>,
    /// Runs its own dockerd, which needs SYS_ADMIN and no seccomp filter (not --privileged).
    pub nested_engine: bool,
}

impl Service {
    /// The name other containers (and, through `hosts add`, the host) reach the service by.
    pub fn network_name(&self) -> &str {
        self.aliases.first().unwrap_or(&self.name)
    }

    /// Whether its main process writes the volumes it mounts (the database's files, the
    /// registry's blobs), so that removing its container must let it shut down cleanly first.
    /// The signer and the server keep their state in the database; the client's daemon keeps its
    /// images in the container's own layer, which the removal discards (its volume holds the trust
    /// data that the `docker` commands run in it write, not the daemon).
    pub fn writes_its_volumes(&self) -> bool {
        !self.volumes.is_empty() && !self.nested_engine
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FileMount {
    pub from: String,
    pub to: String,
    /// Mounted only in sandboxes created with this option (`up --registry-tls`, `--registry-auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
}

impl FileMount {
    pub fn active(&self, mode: RegistryMode) -> bool {
        self.when.is_none_or(|w| w.holds(mode))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Port {
    pub container: u16,
    /// Which configured host port publishes it on 127.0.0.1 ("server_port", "registry_port").
    #[serde(default)]
    pub publish: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VolumeMount {
    pub name: String,
    pub target: String,
}

/// A tmpfs over a directory of runtime state (pid files, sockets, locks). In the container's
/// writable layer such state outlives an unclean stop, and a program that finds its own stale pid
/// file refuses to start (dockerd: `pid file found, ensure docker is not running`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TmpfsMount {
    pub target: String,
    pub size_mib: u64,
    /// What the service keeps there (documentation for whoever reads the table).
    pub holds: String,
}

impl TmpfsMount {
    pub fn size_bytes(&self) -> u64 {
        self.size_mib << 20
    }
}

/// The table compiled into this binary, parsed once: a scenario's names are checked against it
/// as the file is read. It is data of this crate that the unit tests load, so a failure is a bug.
pub fn embedded() -> &'static Spec {
    static TABLE: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| load().expect("xtask/data/sandbox.json parses and validates (unit-tested)"))
}

pub fn load() -> Result<Spec> {
    let spec: Spec = serde_json::from_str(SPEC_JSON).context("parsing xtask/data/sandbox.json")?;
    spec.validate()?;
    Ok(spec)
}

impl Spec {
    pub fn service(&self, name: &str) -> Result<&Service> {
        match self.services.iter().find(|s| s.name == name) {
            Some(s) => Ok(s),
            None => bail!("unknown service `{name}`; the services are: {}", self.service_names().join(", ")),
        }
    }

    pub fn service_names(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.name.as_str()).collect()
    }

    /// Image names in first-use order, each once.
    pub fn image_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.services {
            if !out.contains(&s.image.as_str()) {
                out.push(&s.image);
            }
        }
        out
    }

    /// The on-demand helpers (`signers`, `consumer`): images of the table that no service runs,
    /// each started under its own name by the commands that need it, with the sandbox's labels.
    pub fn helper_names(&self) -> Vec<&str> {
        let used = self.image_names();
        self.images.keys().map(String::as_str).filter(|i| !used.contains(i)).collect()
    }

    /// The client: the one service that runs its own docker engine, where scenario steps, `shell`
    /// and the client's versions run.
    pub fn client(&self) -> Result<&Service> {
        self.services.iter().find(|s| s.nested_engine).context("sandbox.json has no client service (nested_engine)")
    }

    /// The services that get a leaf certificate, with the further names they are reached by (their
    /// network aliases): those that mount `pki/<their name>.crt` in a sandbox of this mode.
    pub fn pki_leaves(&self, mode: RegistryMode) -> Vec<(&str, Vec<&str>)> {
        self.services
            .iter()
            .filter(|s| s.files.iter().any(|f| f.active(mode) && f.from == format!("pki/{}.crt", s.name)))
            .map(|s| (s.name.as_str(), s.aliases.iter().map(String::as_str).filter(|a| *a != s.name).collect()))
            .collect()
    }

    /// The registry: the service that publishes `registry_port`.
    pub fn registry(&self) -> Result<&Service> {
        Ok(self.published("registry_port")?.0)
    }

    /// The service whose port is published under `key` (`server_port`, `registry_port`), and
    /// that port.
    pub fn published(&self, key: &str) -> Result<(&Service, &Port)> {
        self.services
            .iter()
            .find_map(|s| s.ports.iter().find(|p| p.publish.as_deref() == Some(key)).map(|p| (s, p)))
            .with_context(|| format!("sandbox.json publishes no {key}"))
    }

    /// The names the host reaches the published services by, once `hosts add` maps them
    /// (`notaryserver`, `sandboxregistry`), in table order.
    pub fn host_names(&self) -> Vec<&str> {
        self.services
            .iter()
            .filter(|s| s.ports.iter().any(|p| p.publish.is_some()))
            .map(Service::network_name)
            .collect()
    }

    /// `host:port` of the registry as the client sees it (`sandboxregistry:5000`).
    pub fn registry_address(&self) -> Result<String> {
        let (svc, port) = self.published("registry_port")?;
        Ok(format!("{}:{}", svc.network_name(), port.container))
    }

    /// The notary server's URL as the client sees it (`https://notaryserver:4443`).
    pub fn server_url(&self) -> Result<String> {
        let (svc, port) = self.published("server_port")?;
        Ok(format!("https://{}:{}", svc.network_name(), port.container))
    }

    fn validate(&self) -> Result<()> {
        let mut seen = Vec::new();
        for s in &self.services {
            if seen.contains(&&s.name) {
                bail!("sandbox.json: service `{}` listed twice", s.name);
            }
            seen.push(&s.name);
            if !self.images.contains_key(&s.image) {
                bail!("sandbox.json: service `{}` uses unknown image `{}`", s.name, s.image);
            }
            if s.command.is_empty() {
                bail!("sandbox.json: service `{}` has no command", s.name);
            }
            for t in &s.tmpfs {
                if !t.target.starts_with('/') || t.size_mib == 0 || t.holds.trim().is_empty() {
                    bail!(
                        "sandbox.json: service `{}`: tmpfs {} needs an absolute target, a size and what it holds",
                        s.name,
                        t.target
                    );
                }
                if s.volumes.iter().any(|v| v.target == t.target) {
                    bail!("sandbox.json: service `{}` mounts both a volume and a tmpfs at {}", s.name, t.target);
                }
            }
        }
        waves::plan(self).context("sandbox.json")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_and_the_registry_write_their_volumes() {
        let spec = load().unwrap();
        let writers: Vec<&str> =
            spec.services.iter().filter(|s| s.writes_its_volumes()).map(|s| s.name.as_str()).collect();
        assert_eq!(writers, ["db", "registry"]);
        // The client mounts a volume (its CLI's trust data) but its daemon does not write it.
        assert!(!spec.client().unwrap().volumes.is_empty());
    }

    #[test]
    fn table_holds_the_guides_five_parts_in_start_order() {
        let spec = load().unwrap();
        assert_eq!(spec.service_names(), ["db", "notarysigner", "notaryserver", "registry", "client"]);
        assert_eq!(spec.image_names(), ["db", "notary", "registry", "client"]);
    }

    #[test]
    fn guide_names_are_network_aliases() {
        let spec = load().unwrap();
        let aliases: Vec<&str> = spec.services.iter().flat_map(|s| s.aliases.iter().map(String::as_str)).collect();
        for name in ["notaryserver", "notarysigner", "sandboxregistry"] {
            assert!(aliases.contains(&name), "{name} missing");
        }
    }

    #[test]
    fn only_server_and_registry_are_published() {
        let spec = load().unwrap();
        let published: Vec<(&str, u16)> = spec
            .services
            .iter()
            .flat_map(|s| s.ports.iter().filter(|p| p.publish.is_some()).map(move |p| (s.name.as_str(), p.container)))
            .collect();
        assert_eq!(published, [("notaryserver", 4443), ("registry", 5000)]);
    }

    #[test]
    fn every_service_keeps_its_runtime_state_on_a_tmpfs_over_run() {
        let spec = load().unwrap();
        for s in &spec.services {
            assert!(s.tmpfs.iter().any(|t| t.target == "/run"), "{} has no tmpfs over /run", s.name);
            // Trust data never goes to memory.
            for v in &s.volumes {
                assert!(!v.target.starts_with("/run"), "{}: volume {} under /run", s.name, v.target);
            }
        }
    }

    #[test]
    fn tls_and_auth_files_are_mounted_only_in_sandboxes_made_with_them() {
        let spec = load().unwrap();
        let files = |svc: &str, mode: RegistryMode| -> Vec<String> {
            spec.service(svc).unwrap().files.iter().filter(|f| f.active(mode)).map(|f| f.to.clone()).collect()
        };
        let plain = RegistryMode::default();
        let tls = RegistryMode { tls: true, auth: false };
        let both = RegistryMode { tls: true, auth: true };
        assert_eq!(files("registry", plain), ["/etc/sandbox/registry.yml"]);
        assert!(files("registry", tls).contains(&"/etc/sandbox/registry.crt".to_string()));
        assert!(!files("registry", tls).iter().any(|f| f.contains("htpasswd")));
        assert!(files("registry", both).iter().any(|f| f.contains("htpasswd")));
        let certs_d = format!("/etc/docker/certs.d/{}/ca.crt", spec.registry_address().unwrap());
        assert!(files("client", tls).contains(&certs_d) && !files("client", plain).contains(&certs_d));
    }

    #[test]
    fn unknown_service_lists_known_ones() {
        let spec = load().unwrap();
        let err = spec.service("nope").unwrap_err().to_string();
        assert!(err.contains("unknown service `nope`") && err.contains("notaryserver"), "{err}");
    }

    #[test]
    fn names_the_code_needs_come_from_the_table() {
        let spec = load().unwrap();
        assert_eq!(spec.client().unwrap().name, "client");
        let leaves = |mode| spec.pki_leaves(mode).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(leaves(RegistryMode::default()), ["notarysigner", "notaryserver"]);
        assert_eq!(leaves(RegistryMode { tls: true, auth: false }), ["notarysigner", "notaryserver", "registry"]);
        let registry = spec.pki_leaves(RegistryMode { tls: true, auth: true }).pop().unwrap();
        assert_eq!(registry, ("registry", vec!["sandboxregistry"]), "valid for the name it is reached by");
        assert_eq!(spec.registry_address().unwrap(), "sandboxregistry:5000");
        assert_eq!(spec.server_url().unwrap(), "https://notaryserver:4443");
        assert_eq!(spec.host_names(), ["notaryserver", "sandboxregistry"]);

        // Change the table and the derived names follow it.
        let mut changed = spec.clone();
        let registry = changed.services.iter_mut().find(|s| s.name == "registry").unwrap();
        registry.aliases = vec!["otherregistry".into()];
        registry.ports[0].container = 5001;
        changed.services.iter_mut().for_each(|s| s.nested_engine = s.name == "db");
        changed.services.iter_mut().find(|s| s.name == "notarysigner").unwrap().files.clear();
        assert_eq!(changed.registry_address().unwrap(), "otherregistry:5001");
        assert_eq!(changed.client().unwrap().name, "db");
        assert_eq!(changed.pki_leaves(RegistryMode::default()), [("notaryserver", vec![])]);
        changed.services.iter_mut().for_each(|s| s.nested_engine = false);
        assert!(changed.client().is_err());
    }
}
