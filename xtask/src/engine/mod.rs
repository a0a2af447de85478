//! The engine seam: every podman/docker invocation goes through here, built as plain argv first
//! (pure, unit-tested) and then run. The engine's binary is private to this module: nothing
//! outside it can name docker or podman to run it.

mod argv;
mod attach;
mod crash;
mod inspect;
pub mod objects;
mod output;
pub mod podman_locks;
mod resolve;
mod trace;

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
    fn binary(self) -> &'static str {
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
    bin: PathBuf,
}

pub use argv::{exec_args, rm_args, run_args, EnvVar, Mount, RunSpec, Stdin};
pub use inspect::{parse_inspect, ContainerState};
pub use output::Output;
pub use resolve::ENV as ENGINE_ENV;

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

    /// An engine that is never run: for tests that build what the engine would be asked.
    #[cfg(test)]
    pub fn stand_in(kind: EngineKind) -> Engine {
        Engine { kind, bin: PathBuf::from(format!("/usr/bin/{}", kind.binary())) }
    }

    pub fn find(kind: EngineKind) -> Result<Engine> {
        let bin =
            which::which(kind.binary()).with_context(|| format!("{kind} is not installed; {}", install_hint(kind)))?;
        Ok(Engine { kind, bin })
    }

    /// Whether the engine answers, with the error `detect` gives when it does not: for a caller
    /// that found it with [`Engine::for_sandbox_unasked`] and asks this beside its first calls.
    pub fn answering(&self, sh: &Shell) -> Result<()> {
        self.answers(sh)
            .with_context(|| format!("{} is installed but does not answer; {}", self.kind, install_hint(self.kind)))
    }

    /// Runs `f` while the engine is asked, on another thread, whether it answers: the answer no
    /// longer waits in line before the first call that matters. If the engine does not answer,
    /// that is the error; whatever `f` met then is only its symptom.
    pub fn beside_answer<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let (answered, out) = std::thread::scope(|s| {
            let answered = s.spawn(|| self.answering(&Shell::new()?));
            let out = f();
            (answered.join().expect("an engine call does not panic"), out)
        });
        answered?;
        out
    }

    fn answers(&self, sh: &Shell) -> Result<()> {
        // Cheap calls that still need a working engine: `podman info` probes everything (~0.4 s),
        // and `podman ps` checks the state of every container on the machine (0.3 s here with
        // other stacks running); listing volumes opens the same storage and database.
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["version", "--format", "{{.Server.Version}}"],
            EngineKind::Podman => &["volume", "ls", "--quiet", "--filter", "label=io.trust-sandbox.probe=none"],
        };
        let out = self.raw(sh, args)?;
        if !out.ok() {
            bail!("`{} {}` failed: {}", self.kind, args.join(" "), last_line(&out.combined()));
        }
        Ok(())
    }

    /// Runs the engine with argv, capturing output; never fails on a non-zero exit.
    pub fn raw(&self, sh: &Shell, args: &[&str]) -> Result<Output> {
        let out = self
            .captured(sh, args, &[], None)
            .with_context(|| format!("running {} {}", self.kind, args.first().unwrap_or(&"")))?;
        Ok(Output::from_std(out))
    }

    /// One engine call with its output captured, `env` passed through its environment (never its
    /// argv), in a process group of its own: a Ctrl-C at the terminal stops this tool, and is not
    /// forwarded by the engine's CLI into the container it is starting or executing in.
    fn captured(
        &self,
        sh: &Shell,
        args: &[impl AsRef<std::ffi::OsStr>],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> std::io::Result<std::process::Output> {
        use std::process::Stdio;
        let mut c = std::process::Command::new(&self.bin);
        c.args(args).current_dir(sh.current_dir()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c.envs(env.iter().copied());
        c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let traced = trace::start();
        let mut child = c.spawn()?;
        let writer = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => {
                let input = input.to_vec();
                Some(std::thread::spawn(move || std::io::Write::write_all(&mut pipe, &input)))
            }
            _ => None,
        };
        let out = child.wait_with_output()?;
        if let Some(w) = writer {
            // A command that exits without reading all its input is not an error of ours.
            let _ = w.join();
        }
        trace::done(traced, self.kind.binary(), args);
        Ok(out)
    }

    /// Runs the engine and fails with its stderr when it exits non-zero.
    pub fn checked(&self, sh: &Shell, args: &[&str]) -> Result<String> {
        let out = self.raw(sh, args)?;
        if !out.ok() {
            bail!("`{} {}` failed: {}", self.kind, args.join(" "), self.explained(&out));
        }
        Ok(out.stdout)
    }

    /// The engine's error text, with what to do about it where we know (podman's lock mismatch).
    fn explained(&self, out: &Output) -> String {
        let text = out.combined().trim().to_string();
        match podman_locks::lock_mismatch_hint(self.kind, &text) {
            Some(hint) => format!("{text}\n{hint}"),
            None => text,
        }
    }

    pub fn run(&self, sh: &Shell, spec: &RunSpec) -> Result<String> {
        let args = run_args(spec);
        let env: Vec<(&str, &str)> =
            spec.env.iter().filter(|e| e.secret).map(|e| (e.name.as_str(), e.value.as_str())).collect();
        let out =
            Output::from_std(self.captured(sh, &args, &env, None).with_context(|| format!("starting {}", spec.name))?);
        if !out.ok() {
            bail!("{} refused to start {}: {}", self.kind, spec.name, self.explained(&out));
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
        let mode = if stdin.is_some() { Stdin::Piped } else { Stdin::Closed };
        let args = exec_args(container, &names, mode, argv);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = self.captured(sh, &args, &env, stdin).with_context(|| format!("exec in {container}"))?;
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
        let mut found = parse_inspect(&out.stdout)?;
        // docker follows its containers' processes through containerd; podman 4.3 without its
        // conmon keeps a stale `running` (see ContainerState::process_gone).
        if self.kind == EngineKind::Podman {
            for c in found.iter_mut().filter(|c| c.running && !c.restarting) {
                c.process_gone = !inspect::process_alive(c.pid, &c.id);
            }
        }
        Ok(found)
    }

    pub fn container(&self, sh: &Shell, name: &str) -> Result<Option<ContainerState>> {
        Ok(self.inspect(sh, &[name.to_string()])?.into_iter().next())
    }

    pub fn remove_containers(&self, sh: &Shell, names: &[String]) -> Result<()> {
        self.rm(sh, names, false)
    }

    /// [`Engine::remove_containers`] without a grace period: for containers whose processes keep
    /// nothing that outlives the container. podman's `rm --force` stops a container first
    /// (SIGTERM, then up to 10 s), and the client's nested dockerd takes 1.2 s to stop (measured
    /// on podman 4.3) for a state its removal then throws away.
    pub fn remove_containers_now(&self, sh: &Shell, names: &[String]) -> Result<()> {
        self.rm(sh, names, true)
    }

    fn rm(&self, sh: &Shell, names: &[String], at_once: bool) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let args = rm_args(self.kind, names, at_once);
        let out = self.raw(sh, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing containers {}: {}", names.join(", "), self.explained(&out));
        }
        Ok(())
    }

    pub fn network_exists(&self, sh: &Shell, name: &str) -> Result<bool> {
        Ok(self.raw(sh, &["network", "inspect", name])?.ok())
    }

    pub fn network_create(&self, sh: &Shell, name: &str, labels: &[(String, String)]) -> Result<()> {
        self.create_labelled(sh, "network", name, labels)
    }

    /// Keeps a podman network's bridge on one MAC address. A Linux bridge whose address was never
    /// set takes the lowest MAC of its ports, and podman gives every container a random one: each
    /// container that joins (a restart, a scenario's own container) can move the bridge's address,
    /// and the others' cached neighbour entry for the gateway — where aardvark-dns answers — goes
    /// stale. Measured with netavark 1.4: the bridge's address changed on the second of four
    /// containers, and the next name lookups in the client timed out (`Client.Timeout exceeded`).
    /// Setting the address once, even to its current value, makes the kernel keep it. The bridge
    /// exists only while a container is attached, so this runs after one started; rootless
    /// podman's bridge lives in another namespace and is not ours to pin.
    pub fn pin_bridge_address(&self, sh: &Shell, network: &str) -> Result<()> {
        if self.kind != EngineKind::Podman {
            return Ok(());
        }
        // netavark's own record of the network names its bridge; reading it saves an engine call.
        let record = std::path::Path::new("/etc/containers/networks").join(format!("{network}.json"));
        let from_record = std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["network_interface"].as_str().map(str::to_string));
        let bridge = match from_record {
            Some(b) => b,
            None => self.checked(sh, &["network", "inspect", "--format", "{{.NetworkInterface}}", network])?,
        };
        let bridge = bridge.trim();
        let sys = std::path::Path::new("/sys/class/net").join(bridge);
        if bridge.is_empty() || bridge.contains('/') || !sys.exists() {
            return Ok(());
        }
        // 3 is NET_ADDR_SET: already pinned.
        if std::fs::read_to_string(sys.join("addr_assign_type")).unwrap_or_default().trim() == "3" {
            return Ok(());
        }
        let address =
            std::fs::read_to_string(sys.join("address")).with_context(|| format!("reading {}'s address", bridge))?;
        let address = address.trim();
        cmd!(sh, "ip link set dev {bridge} address {address}")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("pinning the address of podman's bridge {bridge} (needs root and iproute2)"))
    }

    pub fn network_rm(&self, sh: &Shell, name: &str) -> Result<()> {
        let out = self.raw(sh, &["network", "rm", name])?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing network {name}: {}", self.explained(&out));
        }
        Ok(())
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
            bail!("removing volumes {}: {}", names.join(", "), self.explained(&out));
        }
        Ok(())
    }

    pub fn image_exists(&self, sh: &Shell, reference: &str) -> Result<bool> {
        Ok(self.raw(sh, &["image", "inspect", "--format", "{{.Id}}", reference])?.ok())
    }

    /// Image ID and size in bytes of each of `references`, in one call; fails if one is missing.
    pub fn image_ids(&self, sh: &Shell, references: &[String]) -> Result<Vec<(String, u64)>> {
        if references.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["image", "inspect", "--format", "{{.Id}} {{.Size}}"];
        args.extend(references.iter().map(String::as_str));
        let out = self.checked(sh, &args)?;
        let parsed: Vec<(String, u64)> = lines(&out)
            .iter()
            .filter_map(|l| {
                let (id, size) = l.split_once(' ')?;
                Some((id.trim_start_matches("sha256:").to_string(), size.trim().parse().ok()?))
            })
            .collect();
        if parsed.len() != references.len() {
            bail!(
                "{} image inspect answered {} of {} images: {}",
                self.kind,
                parsed.len(),
                references.len(),
                out.trim()
            );
        }
        Ok(parsed)
    }

    /// Which of `references` the engine holds, in one call (each call costs ~70 ms on podman).
    pub fn images_present(&self, sh: &Shell, references: &[String]) -> Result<Vec<bool>> {
        self.present(sh, "image", references)
    }

    fn present(&self, sh: &Shell, kind: &str, names: &[String]) -> Result<Vec<bool>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![kind, "inspect"];
        args.extend(names.iter().map(String::as_str));
        if self.raw(sh, &args)?.ok() {
            return Ok(vec![true; names.len()]);
        }
        // Both engines print what they found and fail for the rest, in a shape that does not say
        // which is missing: only then ask one by one.
        names.iter().map(|n| Ok(self.raw(sh, &[kind, "inspect", n])?.ok())).collect()
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

    /// SIGKILL (both engines' default) to each container, without a stop's grace period: for
    /// throwaway containers whose PID 1 may ignore SIGTERM. The caller decides whether a failure
    /// matters (a container that is not running makes it fail).
    pub fn kill(&self, sh: &Shell, containers: &[&str]) -> Result<Output> {
        let mut args = vec!["kill"];
        args.extend_from_slice(containers);
        self.raw(sh, &args)
    }

    pub fn start(&self, sh: &Shell, container: &str) -> Result<()> {
        self.checked(sh, &["start", container]).map(|_| ())
    }

    /// `podman kube play FILE` (podman only): the pod, its containers and claim volumes.
    pub fn kube_play(&self, sh: &Shell, file: &Path) -> Result<()> {
        self.podman_only("kube play")?;
        let file = file.display().to_string();
        self.checked(sh, &["kube", "play", &file]).map(|_| ())
    }

    /// `podman kube down FILE` (podman only): removes the pod; podman 4.3 keeps its volumes.
    pub fn kube_down(&self, sh: &Shell, file: &Path) -> Result<()> {
        self.podman_only("kube down")?;
        let file = file.display().to_string();
        let out = self.raw(sh, &["kube", "down", &file])?;
        if !out.ok() && !is_missing(&out) {
            bail!("podman kube down {file}: {}", out.combined().trim());
        }
        Ok(())
    }

    /// `podman pod start|stop POD` (podman only).
    pub fn pod(&self, sh: &Shell, verb: &str, pod: &str) -> Result<()> {
        self.podman_only("pod")?;
        self.checked(sh, &["pod", verb, pod]).map(|_| ())
    }

    /// `podman pod rm --force POD` (podman only); a missing pod is fine.
    pub fn pod_rm(&self, sh: &Shell, pod: &str) -> Result<()> {
        self.podman_only("pod rm")?;
        let out = self.raw(sh, &["pod", "rm", "--force", pod])?;
        if !out.ok() && !is_missing(&out) {
            bail!("removing pod {pod}: {}", out.combined().trim());
        }
        Ok(())
    }

    fn podman_only(&self, what: &str) -> Result<()> {
        if self.kind != EngineKind::Podman {
            bail!("`{what}` is a podman command; this engine is {}", self.kind);
        }
        Ok(())
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
mod tests;
