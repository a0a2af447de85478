//! `export`: the running sandbox as a Compose file or Kubernetes manifests.
//!
//! Nothing here restates the services: the plan is built from the run specs `up` starts
//! (`lifecycle::run_specs`, from `sandbox.json` and the sandbox's state), so names, aliases,
//! commands, env, capabilities, mounts and published ports are those of `up` by construction.
//! What an orchestrator needs on top is added here and only here: readiness as in-container
//! probes, the DB bootstrap that `up` does through exec, and the files as files beside the
//! manifest — the ones the state keeps private (keys, configs with passwords, passphrases) under
//! `secrets/` (0700, files 0600), referenced by path and never written into a manifest.

pub mod compose;
mod db_init;
pub mod kube;
mod probe;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::engine::{Mount, RunSpec};
use crate::sandbox::state::ClientMode;
use crate::sandbox::{db, lifecycle, pki, Sandbox, LABEL_CONFIG};

pub const SECRETS_DIR: &str = "secrets";
pub const FILES_DIR: &str = "files";

/// One service as the export runs it.
#[derive(Debug, Clone)]
pub struct Part {
    pub service: String,
    /// `up`'s run spec, less what only `up` uses (the config-hash label) and with the secret
    /// env values moved out (see `secret_env`).
    pub spec: RunSpec,
    /// (volume name in the table, mount target)
    pub volumes: Vec<(String, String)>,
    /// (mount target, size in bytes): memory-backed, empty at every start (runtime state).
    pub tmpfs: Vec<(String, u64)>,
    pub files: Vec<FileMount>,
    /// Env whose values are secrets: written to `secrets/<service>.env`, never to the manifest.
    pub secret_env: Vec<(String, String)>,
    pub probe: Vec<String>,
    /// The services `up` waits for before it starts this one (the table's `after`).
    pub after: Vec<String>,
    /// The service's own port in the table (what a later service reaches it on), if it has one.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    /// Path relative to the export directory.
    pub rel: PathBuf,
    pub target: String,
    pub secret: bool,
    /// A directory of files rather than one file (see `kube::prepare`).
    pub dir: bool,
}

/// A file the export writes beside its manifest.
#[derive(Debug, Clone)]
pub struct OutFile {
    pub rel: PathBuf,
    pub bytes: Vec<u8>,
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub sandbox: String,
    pub id: String,
    pub parts: Vec<Part>,
    pub files: Vec<OutFile>,
    /// Every image the stack runs, in start order, each once.
    pub images: Vec<String>,
    /// Volume names of the table, in first-use order.
    pub volumes: Vec<String>,
    /// Labels every object carries (name, id, …) so the tool recognises the stack as this sandbox's.
    pub labels: Vec<(String, String)>,
}

impl Plan {
    pub fn secret_env_rel(service: &str) -> PathBuf {
        Path::new(SECRETS_DIR).join(format!("{service}.env"))
    }
}

/// The plan for the sandbox as it runs: its containers must exist (their images are what runs).
pub fn plan(sh: &xshell::Shell, sb: &Sandbox) -> Result<Plan> {
    if sb.state.client == ClientMode::HostDaemon {
        bail!(
            "sandbox `{}` runs its client in host-daemon mode (the host's docker socket), which no orchestrator should get: `up --client own-daemon` first, then export",
            sb.name
        );
    }
    let mut refs = BTreeMap::new();
    for svc in &sb.spec.services {
        let name = sb.container(&svc.name);
        let c = sb.engine.container(sh, &name)?.with_context(|| {
            format!("sandbox `{}` has no {name} container: `cargo xtask sandbox up` first, then export", sb.name)
        })?;
        refs.entry(svc.image.clone()).or_insert(c.image);
    }
    let specs = lifecycle::run_specs(sb, &refs).context("building the run specs `up` uses")?;
    build(sb, specs)
}

/// Pure: the run specs `up` starts, turned into a plan (unit-tested without an engine).
pub fn build(sb: &Sandbox, specs: Vec<RunSpec>) -> Result<Plan> {
    let secrets = sb.secrets()?;
    let expected = probe::Expected {
        server_migrations: db::migrations().iter().filter(|m| m.database == db::SERVER_DB).count(),
        signer_migrations: db::migrations().iter().filter(|m| m.database == db::SIGNER_DB).count(),
    };
    let mut files: BTreeMap<PathBuf, OutFile> = BTreeMap::new();
    let mut parts = Vec::new();
    let mut images: Vec<String> = Vec::new();
    let mut volumes: Vec<String> = Vec::new();
    let ca_rel = Path::new("pki").join(pki::CA_CERT);
    for (svc, mut spec) in sb.spec.services.iter().zip(specs) {
        spec.labels.retain(|(k, _)| k != LABEL_CONFIG);
        let mut part_files = Vec::new();
        let mut part_volumes = Vec::new();
        let mut part_tmpfs = Vec::new();
        let mut ca_target = None;
        for m in std::mem::take(&mut spec.mounts) {
            match m {
                Mount::Volume { name, target } => {
                    let logical = crate::sandbox::name::part_of(&sb.name, &name).unwrap_or(&name).to_string();
                    if !volumes.contains(&logical) {
                        volumes.push(logical.clone());
                    }
                    part_volumes.push((logical, target));
                }
                Mount::Tmpfs { target, size_bytes } => part_tmpfs.push((target, size_bytes)),
                Mount::Bind { source, target, .. } => {
                    let rel = source.strip_prefix(&sb.dir.path).map_err(|_| {
                        anyhow::anyhow!(
                            "{} mounts {} from outside the state directory: not exportable",
                            svc.name,
                            source.display()
                        )
                    })?;
                    if rel == ca_rel {
                        ca_target.get_or_insert(target.clone());
                    }
                    let secret = is_private(&source)?;
                    let out_rel = Path::new(if secret { SECRETS_DIR } else { FILES_DIR }).join(rel);
                    if !files.contains_key(&out_rel) {
                        let bytes = std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
                        files.insert(out_rel.clone(), OutFile { rel: out_rel.clone(), bytes, secret });
                    }
                    part_files.push(FileMount { rel: out_rel, target, secret, dir: false });
                }
            }
        }
        let mut secret_env = Vec::new();
        spec.env.retain(|e| {
            if e.secret {
                secret_env.push((e.name.clone(), e.value.clone()));
            }
            !e.secret
        });
        if !secret_env.is_empty() {
            let text: String = secret_env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            let rel = Plan::secret_env_rel(&svc.name);
            files.insert(rel.clone(), OutFile { rel, bytes: text.into_bytes(), secret: true });
        }
        if svc.readiness == crate::table::Readiness::DbSchema {
            // The schema step `up` runs through exec, as the container's own entry.
            for (rel, target, bytes, secret) in [
                ("db-entry.sh", db_init::ENTRY_TARGET, db_init::entry_script()?, false),
                ("db-bootstrap.sql", db_init::BOOTSTRAP_TARGET, db_init::bootstrap_sql(&secrets), true),
            ] {
                let rel = Path::new(if secret { SECRETS_DIR } else { FILES_DIR }).join("export").join(rel);
                files.insert(rel.clone(), OutFile { rel: rel.clone(), bytes: bytes.into_bytes(), secret });
                part_files.push(FileMount { rel, target: target.to_string(), secret, dir: false });
            }
            spec.command =
                ["sh".to_string(), db_init::ENTRY_TARGET.to_string()].into_iter().chain(spec.command).collect();
        }
        if !images.contains(&spec.image) {
            images.push(spec.image.clone());
        }
        parts.push(Part {
            service: svc.name.clone(),
            probe: {
                let mode = if sb.spec.registry()?.name == svc.name { sb.state.registry } else { Default::default() };
                let (readiness, unauthorized_ok) = probe::registry_readiness(&svc.readiness, mode);
                probe::command(&readiness, ca_target.as_deref(), &expected, unauthorized_ok)
            },
            spec,
            volumes: part_volumes,
            tmpfs: part_tmpfs,
            files: part_files,
            secret_env,
            after: svc.after.clone(),
            port: svc.ports.first().map(|p| p.container),
        });
    }
    let labels = parts
        .first()
        .map(|p| p.spec.labels.iter().filter(|(k, _)| k != crate::sandbox::LABEL_SERVICE).cloned().collect())
        .unwrap_or_default();
    Ok(Plan {
        sandbox: sb.name.clone(),
        id: sb.state.id.clone(),
        parts,
        files: files.into_values().collect(),
        images,
        volumes,
        labels,
    })
}

/// What the state keeps owner-only stays secret in the export.
fn is_private(path: &Path) -> Result<bool> {
    let mode = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.permissions().mode();
    Ok(mode & 0o077 == 0)
}

/// Writes the plan's files and the manifests into `out`: `secrets/` 0700 with files 0600, the
/// rest 0644. Refuses a directory that holds anything but an earlier export of this sandbox.
pub fn write(out: &Path, plan: &Plan, manifests: &[(&str, String)]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let marker = out.join(MARKER);
    let foreign = std::fs::read_dir(out)?.next().is_some()
        && std::fs::read_to_string(&marker).map(|s| s.trim() != plan.id).unwrap_or(true);
    if foreign {
        bail!(
            "{} is not empty and holds no earlier export of sandbox `{}`: pick an empty --out directory",
            out.display(),
            plan.sandbox
        );
    }
    // One format per directory: the other's manifest beside this one would start a second stack.
    for (format, manifest) in [("compose", compose::FILE), ("kube", kube::FILE)] {
        if !manifests.iter().any(|(name, _)| *name == manifest) && out.join(manifest).exists() {
            bail!(
                "{} holds an earlier `export {format}` ({manifest}): one directory holds one format. Pick another --out directory (the default is export/<format> in the state directory), or remove {manifest} first",
                out.display()
            );
        }
    }
    crate::util::make_private_dir(&out.join(SECRETS_DIR))?;
    for f in &plan.files {
        let path = out.join(&f.rel);
        let parent = path.parent().context("file without a directory")?;
        if f.secret {
            crate::util::make_private_dir(parent)?;
        } else {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        crate::util::write_mode(&path, &f.bytes, if f.secret { 0o600 } else { 0o644 })
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for (name, text) in manifests {
        crate::util::write_mode(&out.join(name), text.as_bytes(), 0o644).with_context(|| format!("writing {name}"))?;
    }
    crate::util::write_mode(&marker, format!("{}\n", plan.id).as_bytes(), 0o644)?;
    Ok(())
}

/// Names the sandbox id an export directory was written for, so a re-export may overwrite it.
const MARKER: &str = ".trust-sandbox-export";

/// How to get the pinned, locally built images to where the stack runs: never a registry pull.
pub fn images_note(plan: &Plan, engine: crate::engine::EngineKind) -> String {
    let refs = plan.images.join(" ");
    // podman writes several images into one archive only when asked to.
    let save = match engine {
        crate::engine::EngineKind::Docker => "docker save",
        crate::engine::EngineKind::Podman => "podman save --multi-image-archive",
    };
    format!(
        "# Images of sandbox `{name}`\n\n\
         Built locally from pinned Debian packages (`xtask/data/images.lock`); no registry has them, and the\n\
         manifests never pull (Compose `pull_policy: never`, Kubernetes `imagePullPolicy: Never`).\n\n\
         {list}\n\
         Copy them to where the stack runs:\n\n\
         ```sh\n\
         # another docker or podman host\n\
         {save} {refs} | ssh HOST docker load        # or: podman load\n\
         # a kind cluster\n\
         kind load docker-image {refs}\n\
         # k3s / containerd nodes\n\
         {save} {refs} | sudo k3s ctr images import -\n\
         # minikube\n\
         minikube image load {refs}\n\
         ```\n",
        name = plan.sandbox,
        list = plan.images.iter().map(|r| format!("- `{r}`\n")).collect::<String>(),
    )
}

#[cfg(test)]
mod tests;
