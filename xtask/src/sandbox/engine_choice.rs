//! A sandbox lives on the engine its state records. An `--engine` (or `TRUST_SANDBOX_ENGINE`) that
//! names the other one is refused before anything is read, changed or removed: `destroy` used to
//! follow it, look for the containers on the wrong engine, find none, and delete the keys of a
//! stack that kept running on the right one.

use anyhow::{bail, Result};

use crate::engine::EngineKind;

/// The environment variable clap reads `--engine` from.
pub const ENV: &str = "TRUST_SANDBOX_ENGINE";

/// Refuses `asked` when it is not `recorded`; `command` says what was about to happen.
pub fn check(name: &str, recorded: EngineKind, asked: Option<EngineKind>, command: &str) -> Result<()> {
    let Some(asked) = asked.filter(|a| *a != recorded) else {
        return Ok(());
    };
    let env = std::env::var(ENV).ok();
    bail!("{}", mismatch(name, recorded, asked, command, env.as_deref()))
}

fn mismatch(name: &str, recorded: EngineKind, asked: EngineKind, command: &str, env: Option<&str>) -> String {
    let from_env = env.is_some_and(|v| v == asked.binary());
    let how = if from_env { format!("{ENV}={asked}") } else { format!("--engine {asked}") };
    let fix =
        if from_env { format!("unset {ENV} or set it to {recorded}") } else { format!("use --engine {recorded}") };
    format!(
        "sandbox `{name}` lives on {recorded}, not {asked} ({how}): nothing was changed, its containers, volumes and keys stay on {recorded}. To {command} it, {fix} (or drop it: the state says {recorded}); for a sandbox on {asked}, pick another --name"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_engine_or_none_passes() {
        check("ts", EngineKind::Podman, None, "destroy").unwrap();
        check("ts", EngineKind::Podman, Some(EngineKind::Podman), "destroy").unwrap();
    }

    #[test]
    fn the_other_engine_is_refused_with_the_fix_for_where_it_came_from() {
        let flag = mismatch("ts", EngineKind::Podman, EngineKind::Docker, "destroy", None);
        assert!(flag.contains("lives on podman, not docker (--engine docker)"), "{flag}");
        assert!(flag.contains("nothing was changed") && flag.contains("use --engine podman"), "{flag}");
        let env = mismatch("ts", EngineKind::Podman, EngineKind::Docker, "destroy", Some("docker"));
        assert!(env.contains("(TRUST_SANDBOX_ENGINE=docker)"), "{env}");
        assert!(env.contains("unset TRUST_SANDBOX_ENGINE or set it to podman"), "{env}");
    }
}
