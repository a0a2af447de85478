//! `status`: what runs, and whether each service answers its readiness probe right now.

use anyhow::Result;
use serde::Serialize;
use xshell::Shell;

use super::readiness::probe_once;
use super::{repair, Sandbox};
use crate::engine::EngineKind;

#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub container: String,
    pub state: String,
    pub ready: bool,
    pub detail: String,
    pub aliases: Vec<String>,
    pub published: Vec<String>,
    pub image: String,
    pub started_at: String,
    /// How often the engine restarted it by its restart policy.
    pub restarts: u64,
    /// It will not come back by itself: stopped, or restarting in a loop (see `fix`).
    pub wedged: bool,
    /// What to do about it, when there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub name: String,
    pub engine: EngineKind,
    pub id: String,
    pub state_dir: String,
    pub network: bool,
    pub services: Vec<ServiceStatus>,
}

/// One quick probe per service (no waiting): what runs, and whether it answers.
pub fn status(sh: &Shell, sb: &Sandbox) -> Result<Status> {
    let names: Vec<String> = sb.spec.services.iter().map(|s| sb.container(&s.name)).collect();
    let found = sb.engine.inspect(sh, &names)?;
    let mut services = Vec::new();
    for svc in &sb.spec.services {
        let c = found.iter().find(|c| c.name == sb.container(&svc.name));
        let (state, ready, detail) = match c {
            None => ("missing".to_string(), false, String::new()),
            Some(c) if !c.running => {
                let hint = format!(
                    "not running ({}): its log says why (`cargo xtask sandbox --name {} logs {}`)",
                    c.status, sb.name, svc.name
                );
                (c.status.clone(), false, hint)
            }
            Some(c) => match probe_once(sh, sb, svc) {
                Ok(()) => (c.status.clone(), true, String::new()),
                Err(e) => (c.status.clone(), false, format!("{e:#}")),
            },
        };
        services.push(ServiceStatus {
            service: svc.name.clone(),
            container: sb.container(&svc.name),
            state,
            ready,
            detail,
            aliases: svc.aliases.clone(),
            published: svc
                .ports
                .iter()
                .filter_map(|p| {
                    Some(format!("127.0.0.1:{}->{}", sb.published_port(p.publish.as_deref()?)?, p.container))
                })
                .collect(),
            image: c.map(|c| c.image.clone()).unwrap_or_default(),
            started_at: c.map(|c| c.started_at.clone()).unwrap_or_default(),
            restarts: c.map(|c| c.restart_count).unwrap_or_default(),
            wedged: false,
            fix: None,
        });
    }
    // Only what failed its probe can be wedged; one look more tells a loop from a single restart.
    let failing: Vec<_> =
        found.iter().filter(|c| services.iter().any(|s| !s.ready && s.container == c.name)).cloned().collect();
    for w in repair::survey(sh, sb, &failing)? {
        if let Some(s) = services.iter_mut().find(|s| s.service == w.service) {
            s.wedged = true;
            s.state = w.state().to_string();
            s.detail = format!(
                "{w}; its log ends: {} (all of it: `cargo xtask sandbox --name {} logs {}`)",
                repair::last_log_line(sh, sb, &w.service),
                sb.name,
                w.service
            );
            s.fix = Some(w.fix(sb));
        }
    }
    Ok(Status {
        name: sb.name.clone(),
        engine: sb.engine.kind,
        id: sb.state.id.clone(),
        state_dir: sb.dir.path.display().to_string(),
        network: sb.engine.network_exists(sh, &sb.network())?,
        services,
    })
}

/// Is every service running and answering? (For `play`, which brings the sandbox up only if not.)
pub fn all_ready(sh: &Shell, sb: &Sandbox) -> bool {
    status(sh, sb).map(|s| s.services.iter().all(|x| x.ready)).unwrap_or(false)
}
