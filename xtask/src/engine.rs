//! The engine seam: every podman/docker invocation goes through here, built as plain argv first
//! (pure, unit-tested) and then run with xshell.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xshell::{cmd, Shell};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    pub fn binary(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}

#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    pub bin: PathBuf,
}

/// What one exec or engine call returned.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    pub fn combined(&self) -> String {
        let mut s = self.stdout.clone();
        if !s.is_empty() && !s.ends_with('\n') && !self.stderr.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.stderr);
        s
    }

    fn from_std(out: std::process::Output) -> Output {
        Output {
            // A signal death has no code; 128+n mirrors what a shell would report.
            code: out.status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + out.status.signal().unwrap_or(0)
            }),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Volume { name: String, target: String },
    Bind { source: PathBuf, target: String, readonly: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// Secrets travel in the engine client's environment (`-e NAME`), never on its argv.
    pub secret: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSpec {
    pub name: String,
    pub image: String,
    pub network: String,
    pub hostname: String,
    pub aliases: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<Mount>,
    /// (host address, host port, container port)
    pub publish: Vec<(String, u16, u16)>,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    pub command: Vec<String>,
}

/// `run -d …` argv for a service container.
pub fn run_args(spec: &RunSpec) -> Vec<String> {
    let mut a: Vec<String> = vec!["run".into(), "--detach".into()];
    let mut push = |k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };
    push("--name", spec.name.clone());
    push("--hostname", spec.hostname.clone());
    push("--network", spec.network.clone());
    for alias in &spec.aliases {
        push("--network-alias", alias.clone());
    }
    for (k, v) in &spec.labels {
        push("--label", format!("{k}={v}"));
    }
    for e in &spec.env {
        if e.secret {
            push("--env", e.name.clone());
        } else {
            push("--env", format!("{}={}", e.name, e.value));
        }
    }
    for m in &spec.mounts {
        push("--mount", mount_arg(m));
    }
    for (addr, host, container) in &spec.publish {
        push("--publish", format!("{addr}:{host}:{container}"));
    }
    for cap in &spec.cap_add {
        push("--cap-add", cap.clone());
    }
    for opt in &spec.security_opt {
        push("--security-opt", opt.clone());
    }
    a.push(spec.image.clone());
    a.extend(spec.command.iter().cloned());
    a
}

fn mount_arg(m: &Mount) -> String {
    match m {
        Mount::Volume { name, target } => format!("type=volume,source={name},target={target}"),
        Mount::Bind { source, target, readonly } => {
            let ro = if *readonly { ",readonly" } else { "" };
            format!("type=bind,source={},target={target}{ro}", source.display())
        }
    }
}

/// `exec …` argv: env names only (values come from the client's environment), then the command.
pub fn exec_args(container: &str, env_names: &[&str], interactive: bool, argv: &[&str]) -> Vec<String> {
    let mut a = vec!["exec".to_string()];
    if interactive {
        a.push("--interactive".into());
    }
    for name in env_names {
        a.push("--env".into());
        a.push((*name).to_string());
    }
    a.push(container.to_string());
    a.extend(argv.iter().map(|s| s.to_string()));
    a
}

/// A container as read back from `inspect`.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerState {
    pub name: String,
    pub id: String,
    pub image: String,
    pub status: String,
    pub running: bool,
    pub started_at: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub pid: i64,
}

/// Parses `container inspect` JSON from either engine (docker prefixes names with '/').
pub fn parse_inspect(json: &str) -> Result<Vec<ContainerState>> {
    let v: serde_json::Value = serde_json::from_str(json).context("parsing container inspect JSON")?;
    let arr = v.as_array().context("container inspect did not return a JSON array")?;
    let mut out = Vec::new();
    for c in arr {
        let s = |p: &str| c.pointer(p).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let labels = c
            .pointer("/Config/Labels")
            .and_then(|l| l.as_object())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        out.push(ContainerState {
            name: s("/Name").trim_start_matches('/').to_string(),
            id: s("/Id"),
            image: s("/Config/Image"),
            status: s("/State/Status"),
            running: c.pointer("/State/Running").and_then(|v| v.as_bool()).unwrap_or(false),
            started_at: s("/State/StartedAt"),
            labels,
            pid: c.pointer("/State/Pid").and_then(|v| v.as_i64()).unwrap_or(0),
        });
    }
    Ok(out)
}

fn install_hint(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Docker => "install and start it with `cargo xtask sandbox setup --engine docker --yes` (Debian: apt-get install docker.io; then start dockerd)",
        EngineKind::Podman => "install it with `cargo xtask sandbox setup --engine podman --yes` (Debian: apt-get install podman runc)",
    }
}

impl Engine {
    /// The requested engine, or the first installed one that answers (docker, then podman).
    pub fn detect(sh: &Shell, requested: Option<EngineKind>) -> Result<Engine> {
        if let Some(kind) = requested {
            let engine = Engine::find(kind)?;
            engine
                .answers(sh)
                .with_context(|| format!("{kind} is installed but does not answer; {}", install_hint(kind)))?;
            return Ok(engine);
        }
        let mut reasons = Vec::new();
        for kind in [EngineKind::Docker, EngineKind::Podman] {
            match Engine::find(kind).and_then(|e| e.answers(sh).map(|_| e)) {
                Ok(e) => return Ok(e),
                Err(err) => reasons.push(format!("{kind}: {err:#}")),
            }
        }
        bail!(
            "no container engine answers ({}). Run `cargo xtask sandbox setup --yes` to install and start one, or `cargo xtask sandbox doctor` for instructions",
            reasons.join("; ")
        )
    }

    pub fn find(kind: EngineKind) -> Result<Engine> {
        let bin =
            which::which(kind.binary()).with_context(|| format!("{kind} is not installed; {}", install_hint(kind)))?;
        Ok(Engine { kind, bin })
    }

    fn answers(&self, sh: &Shell) -> Result<()> {
        // Cheap calls that still need a working engine: `podman info` probes everything (~0.4 s).
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["version", "--format", "{{.Server.Version}}"],
            EngineKind::Podman => &["ps", "--quiet", "--filter", "label=io.trust-sandbox.probe=none"],
        };
        let out = self.raw(sh, args)?;
        if !out.ok() {
            bail!("`{} {}` failed: {}", self.kind, args.join(" "), last_line(&out.combined()));
        }
        Ok(())
    }

    /// Runs the engine with argv, capturing output; never fails on a non-zero exit.
    pub fn raw(&self, sh: &Shell, args: &[&str]) -> Result<Output> {
        let bin = &self.bin;
        let out = cmd!(sh, "{bin} {args...}")
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("running {} {}", self.kind, args.first().unwrap_or(&"")))?;
        Ok(Output::from_std(out))
    }

    /// Runs the engine and fails with its stderr when it exits non-zero.
    pub fn checked(&self, sh: &Shell, args: &[&str]) -> Result<String> {
        let out = self.raw(sh, args)?;
        if !out.ok() {
            bail!("`{} {}` failed: {}", self.kind, args.join(" "), out.combined().trim());
        }
        Ok(out.stdout)
    }

    pub fn run(&self, sh: &Shell, spec: &RunSpec) -> Result<String> {
        let args = run_args(spec);
        let bin = &self.bin;
        let mut c = cmd!(sh, "{bin} {args...}").quiet().ignore_status();
        for e in spec.env.iter().filter(|e| e.secret) {
            c = c.env(&e.name, &e.value);
        }
        let out = Output::from_std(c.output().with_context(|| format!("starting {}", spec.name))?);
        if !out.ok() {
            bail!("{} refused to start {}: {}", self.kind, spec.name, out.combined().trim());
        }
        Ok(out.stdout.trim().to_string())
    }

    /// Exec in a container. `env` values are passed through this process's environment so that
    /// secrets never show on a command line.
    pub fn exec(
        &self,
        sh: &Shell,
        container: &str,
        argv: &[&str],
        env: &[(String, String)],
        stdin: Option<&[u8]>,
    ) -> Result<Output> {
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        let args = exec_args(container, &names, stdin.is_some(), argv);
        let bin = &self.bin;
        let mut c = cmd!(sh, "{bin} {args...}").quiet().ignore_status();
        for (k, v) in env {
            c = c.env(k, v);
        }
        if let Some(input) = stdin {
            c = c.stdin(input);
        }
        let out = c.output().with_context(|| format!("exec in {container}"))?;
        Ok(Output::from_std(out))
    }

    pub fn inspect(&self, sh: &Shell, names: &[String]) -> Result<Vec<ContainerState>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["container", "inspect"];
        args.extend(names.iter().map(String::as_str));
        let out = self.raw(sh, &args)?;
        // Both engines print the found ones and exit non-zero when any is missing.
        if out.stdout.trim().is_empty() {
            return Ok(Vec::new());
        }
        parse_inspect(&out.stdout)
    }

    pub fn container(&self, sh: &Shell, name: &str) -> Result<Option<ContainerState>> {
        Ok(self.inspect(sh, &[name.to_string()])?.into_iter().next())
    }

    /// Names of containers (any state) carrying a label `key=value`.
    pub fn containers_labelled(&self, sh: &Shell, label: &str) -> Result<Vec<String>> {
        let filter = format!("label={label}");
        let out = self.checked(sh, &["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"])?;
        Ok(lines(&out))
    }

    pub fn remove_containers(&self, sh: &Shell, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut args = vec!["rm", "--force", "--volumes"];
        args.extend(names.iter().map(String::as_str));
        let out = self.raw(sh, &args)?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing containers {}: {}", names.join(", "), out.combined().trim());
        }
        Ok(())
    }

    pub fn networks_labelled(&self, sh: &Shell, label: &str) -> Result<Vec<String>> {
        let filter = format!("label={label}");
        let out = self.checked(sh, &["network", "ls", "--filter", &filter, "--format", "{{.Name}}"])?;
        Ok(lines(&out))
    }

    pub fn network_exists(&self, sh: &Shell, name: &str) -> Result<bool> {
        Ok(self.raw(sh, &["network", "inspect", name])?.ok())
    }

    pub fn network_create(&self, sh: &Shell, name: &str, labels: &[(String, String)]) -> Result<()> {
        self.create_labelled(sh, "network", name, labels)
    }

    pub fn network_rm(&self, sh: &Shell, name: &str) -> Result<()> {
        let out = self.raw(sh, &["network", "rm", name])?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing network {name}: {}", out.combined().trim());
        }
        Ok(())
    }

    pub fn volumes_labelled(&self, sh: &Shell, label: &str) -> Result<Vec<String>> {
        let filter = format!("label={label}");
        let out = self.checked(sh, &["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"])?;
        Ok(lines(&out))
    }

    pub fn volume_exists(&self, sh: &Shell, name: &str) -> Result<bool> {
        Ok(self.raw(sh, &["volume", "inspect", name])?.ok())
    }

    pub fn volume_create(&self, sh: &Shell, name: &str, labels: &[(String, String)]) -> Result<()> {
        self.create_labelled(sh, "volume", name, labels)
    }

    /// `network create` / `volume create` with labels: both take the same flags.
    fn create_labelled(&self, sh: &Shell, kind: &str, name: &str, labels: &[(String, String)]) -> Result<()> {
        let mut args: Vec<String> = vec![kind.into(), "create".into()];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.push(name.into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.checked(sh, &refs).map(|_| ())
    }

    pub fn volume_rm(&self, sh: &Shell, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut args = vec!["volume", "rm", "--force"];
        args.extend(names.iter().map(String::as_str));
        let out = self.raw(sh, &args)?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing volumes {}: {}", names.join(", "), out.combined().trim());
        }
        Ok(())
    }

    pub fn image_exists(&self, sh: &Shell, reference: &str) -> Result<bool> {
        Ok(self.raw(sh, &["image", "inspect", "--format", "{{.Id}}", reference])?.ok())
    }

    /// Repository:tag of every image under `repo_prefix` (e.g. "localhost/trust-sandbox/").
    pub fn images_under(&self, sh: &Shell, repo_prefix: &str) -> Result<Vec<(String, String)>> {
        let out = self.checked(sh, &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}\t{{.Size}}"])?;
        Ok(lines(&out)
            .into_iter()
            .filter_map(|l| {
                let (r, size) = l.split_once('\t')?;
                // podman qualifies local names with localhost/, docker keeps them as given.
                let r = if r.starts_with("localhost/") { r.to_string() } else { format!("localhost/{r}") };
                r.starts_with(repo_prefix).then(|| (r, size.to_string()))
            })
            .collect())
    }

    /// Loads an image archive and returns the reference(s) it named.
    pub fn load(&self, sh: &Shell, archive: &Path) -> Result<String> {
        let path = archive.display().to_string();
        let out = self.checked(sh, &["load", "--input", &path])?;
        out.lines()
            .rev()
            .find_map(|l| l.split_once("Loaded image: ").or_else(|| l.split_once("Loaded image(s): ")))
            .map(|(_, r)| r.trim().to_string())
            .with_context(|| format!("{} load printed no image name: {}", self.kind, out.trim()))
    }

    pub fn tag(&self, sh: &Shell, from: &str, to: &str) -> Result<()> {
        self.checked(sh, &["tag", from, to]).map(|_| ())
    }

    pub fn rmi(&self, sh: &Shell, reference: &str) -> Result<()> {
        let out = self.raw(sh, &["rmi", "--force", reference])?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing image {reference}: {}", out.combined().trim());
        }
        Ok(())
    }

    pub fn logs_tail(&self, sh: &Shell, container: &str, lines: usize) -> Result<String> {
        let n = lines.to_string();
        Ok(self.raw(sh, &["logs", "--tail", &n, container])?.combined())
    }

    pub fn stop(&self, sh: &Shell, container: &str) -> Result<()> {
        self.checked(sh, &["stop", "--time", "5", container]).map(|_| ())
    }

    pub fn start(&self, sh: &Shell, container: &str) -> Result<()> {
        self.checked(sh, &["start", container]).map(|_| ())
    }

    pub fn server_version(&self, sh: &Shell) -> Result<String> {
        let fmt = match self.kind {
            EngineKind::Docker => "{{.Server.Version}}",
            EngineKind::Podman => "{{.Client.Version}}",
        };
        Ok(self.checked(sh, &["version", "--format", fmt])?.trim().to_string())
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim()
}

/// "No such …" / "no such …" / "not found": the thing is already gone, which `down` treats as done.
fn is_missing(out: &Output) -> bool {
    let text = out.combined().to_lowercase();
    text.contains("no such") || text.contains("not found") || text.contains("does not exist")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            name: "ts-notarysigner".into(),
            image: "localhost/trust-sandbox/notary:abc".into(),
            network: "ts".into(),
            hostname: "notarysigner".into(),
            aliases: vec!["notarysigner".into()],
            labels: vec![("io.trust-sandbox.instance".into(), "ts".into())],
            env: vec![
                EnvVar { name: "PLAIN".into(), value: "1".into(), secret: false },
                EnvVar { name: "NOTARY_SIGNER_SANDBOX".into(), value: "hunter2".into(), secret: true },
            ],
            mounts: vec![
                Mount::Volume { name: "ts-db".into(), target: "/var/lib/mysql".into() },
                Mount::Bind {
                    source: "/s/ca.crt".into(),
                    target: "/root/.docker/tls/notaryserver:4443/ca.crt".into(),
                    readonly: true,
                },
            ],
            publish: vec![("127.0.0.1".into(), 14443, 4443)],
            cap_add: vec!["SYS_ADMIN".into()],
            security_opt: vec!["seccomp=unconfined".into()],
            command: vec!["notary-signer".into(), "-config".into(), "/etc/sandbox/signer.json".into()],
        }
    }

    #[test]
    fn run_args_keep_secrets_off_argv() {
        let a = run_args(&spec());
        assert!(!a.iter().any(|s| s.contains("hunter2")), "{a:?}");
        let i = a.iter().position(|s| s == "NOTARY_SIGNER_SANDBOX").unwrap();
        assert_eq!(a[i - 1], "--env");
        assert!(a.contains(&"PLAIN=1".to_string()));
    }

    #[test]
    fn run_args_publish_on_loopback_only_and_end_with_image_then_command() {
        let a = run_args(&spec());
        assert!(a.contains(&"127.0.0.1:14443:4443".to_string()));
        let img = a.iter().position(|s| s == "localhost/trust-sandbox/notary:abc").unwrap();
        assert_eq!(&a[img + 1..], ["notary-signer", "-config", "/etc/sandbox/signer.json"]);
        assert_eq!(&a[..2], ["run", "--detach"]);
    }

    #[test]
    fn mounts_use_mount_syntax_so_colons_in_targets_survive() {
        let a = run_args(&spec());
        assert!(a.contains(
            &"type=bind,source=/s/ca.crt,target=/root/.docker/tls/notaryserver:4443/ca.crt,readonly".to_string()
        ));
        assert!(a.contains(&"type=volume,source=ts-db,target=/var/lib/mysql".to_string()));
    }

    #[test]
    fn exec_args_name_env_without_values() {
        let a = exec_args("c", &["DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"], true, &["sh", "-c", "true"]);
        assert_eq!(
            a,
            ["exec", "--interactive", "--env", "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "c", "sh", "-c", "true"]
        );
    }

    #[test]
    fn inspect_parses_docker_and_podman_shapes() {
        let docker = r#"[{"Id":"abc","Name":"/ts-db","Config":{"Image":"img","Labels":{"a":"b"}},"State":{"Status":"running","Running":true,"StartedAt":"t","Pid":42}}]"#;
        let podman = r#"[{"Id":"def","Name":"ts-db","Config":{"Image":"img","Labels":null},"State":{"Status":"exited","Running":false,"StartedAt":"t","Pid":0}}]"#;
        let d = parse_inspect(docker).unwrap();
        assert_eq!(d[0].name, "ts-db");
        assert!(d[0].running);
        assert_eq!(d[0].labels.get("a").map(String::as_str), Some("b"));
        let p = parse_inspect(podman).unwrap();
        assert_eq!(p[0].name, "ts-db");
        assert!(!p[0].running);
        assert!(p[0].labels.is_empty());
    }

    #[test]
    fn inspect_rejects_non_array() {
        assert!(parse_inspect("{}").is_err());
    }
}
