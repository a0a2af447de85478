//! What the engine reports back: `container inspect` JSON, read into our own type.

use anyhow::{Context, Result};
use serde::Serialize;

/// A container as read back from `inspect`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContainerState {
    pub name: String,
    pub id: String,
    pub image: String,
    pub status: String,
    pub running: bool,
    pub started_at: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub pid: i64,
    /// Between two runs under a restart policy: docker says so (`State.Restarting`, status
    /// `restarting`, and `Running` stays true meanwhile); podman 4.3 shows `stopped` instead.
    pub restarting: bool,
    /// How often the engine restarted it by its restart policy (top-level `RestartCount`).
    pub restart_count: u64,
    /// The exit code of its last run.
    pub exit_code: i64,
    /// When its last run ended (RFC 3339; the zero time, `0001-…`, if it never ended).
    pub finished_at: String,
    /// The engine says it runs, but its main process is gone: podman 4.3 keeps saying `running`
    /// when the container's process and its conmon were killed (as a reboot without systemd
    /// leaves them), and no `ps --sync` changes that. Filled in by `Engine::inspect`.
    pub process_gone: bool,
}

impl ContainerState {
    /// How long its last run lasted, while it is between runs (its start and end both recorded,
    /// the end after the start); `None` while a run is under way or never ended.
    pub fn last_run(&self) -> Option<std::time::Duration> {
        let at = |t: &str| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok();
        let (start, end) = (at(&self.started_at)?, at(&self.finished_at)?);
        (end >= start).then(|| (end - start).try_into().ok()).flatten()
    }
}

/// Is `pid` the main process of container `id`? Its cgroup path names the container's id on
/// both engines (`/docker/<id>`, `libpod-<id>`), which a pid reused by another process lacks.
/// Unknown (not readable) counts as alive: only a proven loss makes a container wedged.
pub fn process_alive(pid: i64, id: &str) -> bool {
    if pid <= 0 || id.is_empty() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/cgroup")) {
        Ok(text) => text.contains(id),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
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
            restarting: c.pointer("/State/Restarting").and_then(|v| v.as_bool()).unwrap_or(false),
            restart_count: c.pointer("/RestartCount").and_then(|v| v.as_u64()).unwrap_or(0),
            exit_code: c.pointer("/State/ExitCode").and_then(|v| v.as_i64()).unwrap_or(0),
            finished_at: s("/State/FinishedAt"),
            process_gone: false,
        });
    }
    Ok(out)
}
