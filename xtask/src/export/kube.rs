//! The plan as Kubernetes manifests: one Pod named after the sandbox, one container per service
//! (podman names them `<pod>-<container>`, i.e. `up`'s names), a PersistentVolumeClaim per volume.
//!
//! In a pod every container shares one network namespace, so the guide's names are mapped to
//! 127.0.0.1 with `hostAliases` instead of network aliases (the certificates name localhost and
//! 127.0.0.1 too). A pod has no start order: each container waits for the ports of the services
//! its `after` names before its command (restarts, `restartPolicy: Always`, cover the rest), and readiness probes
//! tell when each works.
//!
//! Files are `hostPath` mounts of the export directory's own files, because podman 4.3's
//! `kube play` (Debian bookworm) can mount neither Secret volumes correctly (measured: the file
//! holds the base64 text, `stringData` is dropped) nor single ConfigMap keys (`subPath` is ignored).
//! Secret env goes the same way: a 0600 file the container's command sources.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{FileMount, OutFile, Part, Plan};

pub const FILE: &str = "sandbox.yaml";
const ENV_TARGET: &str = "/run/trust-sandbox/export-env";
/// The PersistentVolumeClaim (and so podman volume) of a table volume: never `up`'s own volume.
pub fn claim_name(sandbox: &str, volume: &str) -> String {
    format!("{sandbox}-kube-{volume}")
}

/// The emptyDir holding a service's runtime state (`/run`): named for the sandbox, because podman
/// 4.3's `kube play` makes an emptyDir a named volume of exactly this name (measured: `medium:
/// Memory` ignored; the volume lives until `kube down`), and two sandboxes must not share one.
pub fn runtime_volume_name(sandbox: &str, service: &str) -> String {
    volume_name(&format!("{sandbox}-kube-run"), Path::new(service))
}

/// The start of a container's command when its runtime dirs are emptyDirs: an emptyDir lives as
/// long as the pod, across the container's restarts (Kubernetes keeps it for the pod's life;
/// podman 4.3 keeps its named volume), so a pid file left by a crash would still be there. The
/// command empties them first, as a tmpfs per start does under `up`. Plain sh and coreutils' rm
/// (every image has them); `--one-file-system` keeps it out of anything mounted inside (a service
/// account's token under /run/secrets); podman's own `.containerenv` and the files this tool
/// mounts under `/run/trust-sandbox` stay.
fn empty_runtime_dirs(targets: &[String]) -> String {
    let globs: Vec<String> = targets
        .iter()
        .map(|t| {
            let q = crate::util::shell_quote(t);
            format!("{q}/* {q}/.[!.]* {q}/..?*")
        })
        .collect();
    format!(
        "for f in {}; do case \"$f\" in */.containerenv|*/trust-sandbox) ;; *) [ -e \"$f\" ] && rm -rf --one-file-system \"$f\" 2>/dev/null ;; esac; done; exec \"$@\"",
        globs.join(" ")
    )
}

/// Where the secret env of a service is written, as shell exports the command sources.
pub fn env_script_rel(service: &str) -> std::path::PathBuf {
    Path::new(super::SECRETS_DIR).join(format!("{service}.env.sh"))
}

/// `export NAME='value'` lines (single quotes, embedded ones closed and escaped).
pub fn env_script(env: &[(String, String)]) -> String {
    env.iter().map(|(k, v)| crate::util::shell_export(k, v)).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<S: Serialize> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: S,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimSpec {
    access_modes: Vec<&'static str>,
    resources: Resources,
}

#[derive(Serialize)]
struct Resources {
    requests: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    restart_policy: &'static str,
    host_aliases: Vec<HostAlias>,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
struct HostAlias {
    ip: &'static str,
    hostnames: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    image_pull_policy: &'static str,
    args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    security_context: Option<SecurityContext>,
    readiness_probe: Probe,
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
struct EnvVar {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    container_port: u16,
    host_port: u16,
    #[serde(rename = "hostIP")]
    host_ip: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Capabilities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seccomp_profile: Option<SeccompProfile>,
}

#[derive(Serialize)]
struct Capabilities {
    add: Vec<String>,
}

#[derive(Serialize)]
struct SeccompProfile {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    exec: Exec,
    period_seconds: u32,
    timeout_seconds: u32,
    failure_threshold: u32,
}

#[derive(Serialize)]
struct Exec {
    command: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: String,
    mount_path: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    persistent_volume_claim: Option<ClaimRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_path: Option<HostPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    empty_dir: Option<EmptyDir>,
}

/// `medium: Memory` is a tmpfs: runtime state that must not outlive the container.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmptyDir {
    medium: &'static str,
    size_limit: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimRef {
    claim_name: String,
}

#[derive(Serialize)]
struct HostPath {
    path: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A DNS-1123 label for a file's volume: its path in the export, made one.
fn volume_name(prefix: &str, rel: &Path) -> String {
    let raw = format!("{prefix}-{}", rel.display()).to_ascii_lowercase();
    let mut s: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    s.truncate(63);
    s.trim_matches('-').to_string()
}

/// Kubernetes label values are short and plain; other labels (a path, say) become annotations.
fn is_label_value(v: &str) -> bool {
    v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn container(part: &Part, waits: &[&Part], sandbox: &str, out: &Path, volumes: &mut Vec<Volume>) -> Result<Container> {
    let spec = &part.spec;
    let mut mounts = Vec::new();
    for (name, target) in &part.volumes {
        let vname = volume_name("vol", Path::new(name));
        if !volumes.iter().any(|v| v.name == vname) {
            volumes.push(Volume {
                name: vname.clone(),
                persistent_volume_claim: Some(ClaimRef { claim_name: claim_name(sandbox, name) }),
                host_path: None,
                empty_dir: None,
            });
        }
        mounts.push(VolumeMount { name: vname, mount_path: target.clone(), read_only: false });
    }
    for (target, size) in &part.tmpfs {
        // One per container: an emptyDir is shared by every container that mounts it, and the
        // services' runtime state has nothing to share.
        let vname = runtime_volume_name(sandbox, &part.service);
        volumes.push(Volume {
            name: vname.clone(),
            persistent_volume_claim: None,
            host_path: None,
            empty_dir: Some(EmptyDir { medium: "Memory", size_limit: format!("{}Mi", size >> 20) }),
        });
        mounts.push(VolumeMount { name: vname, mount_path: target.clone(), read_only: false });
    }
    let mut files: Vec<(std::path::PathBuf, String, bool)> =
        part.files.iter().map(|f| (f.rel.clone(), f.target.clone(), f.dir)).collect();
    let mut args = spec.command.clone();
    if !part.secret_env.is_empty() {
        files.push((env_script_rel(&part.service), ENV_TARGET.to_string(), false));
        let wrapper = format!(". {ENV_TARGET} && exec \"$@\"");
        args = ["sh".to_string(), "-c".into(), wrapper, "sh".into()].into_iter().chain(args).collect();
    }
    if !part.tmpfs.is_empty() {
        let targets: Vec<String> = part.tmpfs.iter().map(|(t, _)| t.clone()).collect();
        args = ["sh".to_string(), "-c".into(), empty_runtime_dirs(&targets), "sh".into()]
            .into_iter()
            .chain(args)
            .collect();
    }
    let ports: Vec<u16> = waits.iter().filter_map(|p| p.port).collect();
    if !ports.is_empty() {
        // No start order in a pod: wait for the ports of what `up` waits for (all share
        // localhost), so a cluster does not put the service into CrashLoopBackOff while the DB
        // starts.
        let wait: Vec<String> = ports
            .iter()
            .map(|port| format!("until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.2; done; "))
            .collect();
        let wait = format!("{}exec \"$@\"", wait.concat());
        args = ["bash".to_string(), "-c".into(), wait, "bash".into()].into_iter().chain(args).collect();
    }
    for (rel, target, dir) in files {
        let vname = volume_name("file", &rel);
        if !volumes.iter().any(|v| v.name == vname) {
            let path = out.join(&rel).display().to_string();
            volumes.push(Volume {
                name: vname.clone(),
                persistent_volume_claim: None,
                host_path: Some(HostPath { path, kind: if dir { "Directory" } else { "File" } }),
                empty_dir: None,
            });
        }
        mounts.push(VolumeMount { name: vname, mount_path: target, read_only: true });
    }
    let mut seccomp = None;
    for opt in &spec.security_opt {
        match opt.as_str() {
            "seccomp=unconfined" => seccomp = Some(SeccompProfile { kind: "Unconfined" }),
            other => bail!("{}: security option `{other}` has no Kubernetes form in this export", part.service),
        }
    }
    let security_context = (!spec.cap_add.is_empty() || seccomp.is_some()).then(|| SecurityContext {
        capabilities: (!spec.cap_add.is_empty()).then(|| Capabilities { add: spec.cap_add.clone() }),
        seccomp_profile: seccomp,
    });
    Ok(Container {
        name: part.service.clone(),
        image: spec.image.clone(),
        image_pull_policy: "Never",
        args,
        env: spec.env.iter().map(|e| EnvVar { name: e.name.clone(), value: e.value.clone() }).collect(),
        ports: spec
            .publish
            .iter()
            .map(|(addr, host, container)| ContainerPort {
                container_port: *container,
                host_port: *host,
                host_ip: addr.clone(),
            })
            .collect(),
        security_context,
        readiness_probe: Probe {
            exec: Exec { command: part.probe.clone() },
            period_seconds: 2,
            timeout_seconds: 10,
            failure_threshold: 45,
        },
        volume_mounts: mounts,
    })
}

/// The manifests; `out` is the (absolute) export directory the hostPath mounts point into.
pub fn render(plan: &Plan, out: &Path) -> Result<String> {
    let (mut labels, mut annotations) = (BTreeMap::new(), BTreeMap::new());
    for (k, v) in &plan.labels {
        if is_label_value(v) {
            labels.insert(k.clone(), v.clone());
        } else {
            annotations.insert(k.clone(), v.clone());
        }
    }
    let mut volumes = Vec::new();
    let mut containers = Vec::new();
    let mut hostnames = Vec::new();
    for part in &plan.parts {
        if part.spec.name != crate::sandbox::name::object(&plan.sandbox, &part.service) {
            bail!("container {} is not named <sandbox>-<service>, which the pod's naming relies on", part.spec.name);
        }
        if part.spec.security_opt.iter().any(|o| o == "seccomp=unconfined") {
            // podman 4.3 reads only this (older) form; Kubernetes the securityContext one.
            annotations.insert(
                format!("container.seccomp.security.alpha.kubernetes.io/{}", part.service),
                "unconfined".to_string(),
            );
        }
        for a in &part.spec.aliases {
            if !hostnames.contains(a) {
                hostnames.push(a.clone());
            }
        }
        let waits: Vec<&Part> = plan.parts.iter().filter(|p| part.after.contains(&p.service)).collect();
        containers.push(container(part, &waits, &plan.sandbox, out, &mut volumes)?);
    }
    let mut docs = Vec::new();
    for v in &plan.volumes {
        let claim = Object {
            api_version: "v1",
            kind: "PersistentVolumeClaim",
            metadata: Metadata {
                name: claim_name(&plan.sandbox, v),
                labels: labels.clone(),
                annotations: BTreeMap::new(),
            },
            spec: ClaimSpec {
                access_modes: vec!["ReadWriteOnce"],
                resources: Resources { requests: [("storage", "2Gi")].into() },
            },
        };
        docs.push(serde_saphyr::to_string(&claim)?);
    }
    let pod = Object {
        api_version: "v1",
        kind: "Pod",
        metadata: Metadata { name: plan.sandbox.clone(), labels, annotations },
        spec: PodSpec {
            restart_policy: "Always",
            host_aliases: vec![HostAlias { ip: "127.0.0.1", hostnames }],
            containers,
            volumes,
        },
    };
    docs.push(serde_saphyr::to_string(&pod)?);
    Ok(format!(
        "# Sandbox `{name}` (id {id}), written by `cargo xtask sandbox export kube` from the service table and\n\
         # this sandbox's state. hostPath mounts point into {out}: files/ (public), secrets/ (0600).\n\
         # Start: podman kube play {FILE}   Stop: podman kube down {FILE} (then remove the claims' volumes)\n{docs}",
        name = plan.sandbox,
        id = plan.id,
        out = out.display(),
        docs = docs.iter().map(|d| format!("---\n{d}")).collect::<String>(),
    ))
}

/// What only the Kubernetes form needs, added to the plan: each service's secret env as shell
/// exports, and a directory mount for every file whose target path holds a `:` (the client's
/// `~/.docker/tls/notaryserver:4443/ca.crt`): podman 4.3 splits mount specs at colons (measured:
/// `invalid option type "4443/ca.crt"`), so the nearest parent without one is mounted instead.
pub fn prepare(plan: &mut Plan) -> Result<()> {
    let mut extra = Vec::new();
    for part in &mut plan.parts {
        if !part.secret_env.is_empty() {
            // Instead of Compose's env_file: a pod cannot read one.
            let env_file = Plan::secret_env_rel(&part.service);
            plan.files.retain(|o| o.rel != env_file);
            extra.push(OutFile {
                rel: env_script_rel(&part.service),
                bytes: env_script(&part.secret_env).into_bytes(),
                secret: true,
            });
        }
        let mut mounts: Vec<FileMount> = Vec::new();
        for f in std::mem::take(&mut part.files) {
            let Some((dir, inner)) = split_at_colon(&f.target) else {
                mounts.push(f);
                continue;
            };
            if dir.is_empty() {
                bail!("{}: cannot mount {} without a colon in the mount path", part.service, f.target);
            }
            let top = if f.secret { super::SECRETS_DIR } else { super::FILES_DIR };
            let dir_rel = Path::new(top).join("dirs").join(format!("{}{}", part.service, dir.replace('/', "-")));
            let source = plan.files.iter().find(|o| o.rel == f.rel).context("a mounted file the plan does not hold")?;
            extra.push(OutFile { rel: dir_rel.join(inner), bytes: source.bytes.clone(), secret: f.secret });
            if !mounts.iter().any(|m| m.target == dir) {
                mounts.push(FileMount { rel: dir_rel, target: dir.to_string(), secret: f.secret, dir: true });
            }
        }
        part.files = mounts;
    }
    plan.files.extend(extra);
    Ok(())
}

/// `/a/b:c/d` -> (`/a`, `b:c/d`): the path up to the first component holding a colon.
fn split_at_colon(target: &str) -> Option<(&str, &str)> {
    let colon = target.find(':')?;
    let slash = target[..colon].rfind('/')?;
    Some((&target[..slash], &target[slash + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_dir_is_emptied_then_the_command_runs() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        for d in ["docker/containerd", "mysqld", "trust-sandbox"] {
            std::fs::create_dir_all(run.join(d)).unwrap();
        }
        for f in ["docker.pid", ".hidden.lock", "..odd", ".containerenv", "trust-sandbox/secret-env"] {
            std::fs::write(run.join(f), "stale").unwrap();
        }
        let script = empty_runtime_dirs(&[run.display().to_string()]);
        let out = std::process::Command::new("sh")
            .args(["-c", &script, "sh", "sh", "-c", "ls -A \"$0\"", &run.display().to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), ".containerenv\ntrust-sandbox\n");
        assert!(run.join("trust-sandbox/secret-env").exists(), "the tool's own mounted files stay");
    }
}
