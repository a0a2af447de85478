//! What the engine reports back: `container inspect` JSON, read into our own type.

use anyhow::{Context, Result};
use serde::Serialize;

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
