//! The engine's argv, built purely from data (no process runs here), so every flag is unit-tested.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Volume {
        name: String,
        target: String,
    },
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    /// Memory-backed, empty at every start: for runtime state (pid files, sockets, locks) that an
    /// unclean stop must not leave behind. Mode 0755, as Debian's /run.
    Tmpfs {
        target: String,
        size_bytes: u64,
    },
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
    /// `--restart` policy, if any (see `sandbox::RESTART_POLICY`).
    pub restart: Option<String>,
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
    // None on the host's network (the container has the host's name there).
    if !spec.hostname.is_empty() {
        push("--hostname", spec.hostname.clone());
    }
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
    if let Some(policy) = &spec.restart {
        push("--restart", policy.clone());
    }
    a.push(spec.image.clone());
    a.extend(spec.command.iter().cloned());
    a
}

/// `rm` argv for containers and their anonymous volumes. `at_once`: without podman's stop first
/// (SIGTERM, then up to 10 s); docker's `rm --force` kills at once anyway, and has no `--time`.
pub fn rm_args(kind: super::EngineKind, names: &[String], at_once: bool) -> Vec<String> {
    let mut a: Vec<String> = ["rm", "--force", "--volumes"].map(String::from).into();
    if at_once && kind == super::EngineKind::Podman {
        a.extend(["--time".to_string(), "0".to_string()]);
    }
    a.extend(names.iter().cloned());
    a
}

fn mount_arg(m: &Mount) -> String {
    match m {
        Mount::Volume { name, target } => format!("type=volume,source={name},target={target}"),
        Mount::Bind { source, target, readonly } => {
            let ro = if *readonly { ",readonly" } else { "" };
            format!("type=bind,source={},target={target}{ro}", source.display())
        }
        // Both engines read the size in bytes and the mode in octal.
        Mount::Tmpfs { target, size_bytes } => {
            format!("type=tmpfs,target={target},tmpfs-size={size_bytes},tmpfs-mode=0755")
        }
    }
}

/// How an `exec` meets its caller's stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdin {
    /// None: the command reads end-of-file.
    Closed,
    /// Passed on (`--interactive`).
    Piped,
    /// Passed on and a terminal allocated (`--interactive --tty`): a person types into it.
    Terminal,
}

/// `exec …` argv: env names only (values come from the client's environment), then the command.
pub fn exec_args(container: &str, env_names: &[&str], stdin: Stdin, argv: &[&str]) -> Vec<String> {
    let mut a = vec!["exec".to_string()];
    match stdin {
        Stdin::Closed => {}
        Stdin::Piped => a.push("--interactive".into()),
        Stdin::Terminal => a.extend(["--interactive".into(), "--tty".into()]),
    }
    for name in env_names {
        a.push("--env".into());
        a.push((*name).to_string());
    }
    a.push(container.to_string());
    a.extend(argv.iter().map(|s| s.to_string()));
    a
}
