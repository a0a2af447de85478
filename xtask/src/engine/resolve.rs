//! Which engine a command means: the one a sandbox's state records (`--engine` may only repeat
//! it), else the one asked for, else the first that answers. Decided here, once, for every
//! command; the caller reads the state and hands over what it records.
//!
//! An `--engine` (or `TRUST_SANDBOX_ENGINE`) that names the other engine is refused before
//! anything is read, changed or removed, and the error names where the wrong engine came from:
//! `destroy` used to follow it, look for the containers on the wrong engine, find none, and delete
//! the keys of a stack that kept running on the right one.

use anyhow::{bail, Result};
use xshell::Shell;

use super::{Engine, EngineKind};

/// The environment variable clap reads `--engine` from.
pub const ENV: &str = "TRUST_SANDBOX_ENGINE";

impl EngineKind {
    /// The engine a command on sandbox `name` means, given `--engine` (`requested`) and the
    /// engine its state records (`recorded`, None when it has no state); None: the first that
    /// answers. `command` says what was about to happen (`destroy`, `bring up`), for the error.
    pub fn resolve(
        name: &str,
        requested: Option<EngineKind>,
        recorded: Option<EngineKind>,
        command: &str,
    ) -> Result<Option<EngineKind>> {
        match (recorded, requested) {
            (Some(lives_on), Some(asked)) if lives_on != asked => {
                let env = std::env::var(ENV).ok();
                bail!("{}", mismatch(name, lives_on, asked, command, env.as_deref()))
            }
            (recorded, requested) => Ok(recorded.or(requested)),
        }
    }

    /// The engines that may hold a sandbox's objects: the one asked for, else the one its state
    /// records, else both (nothing says which).
    pub fn candidates(requested: Option<EngineKind>, recorded: Option<EngineKind>) -> Vec<EngineKind> {
        match requested.or(recorded) {
            Some(kind) => vec![kind],
            None => vec![EngineKind::Docker, EngineKind::Podman],
        }
    }
}

/// The refusal of `asked` for a sandbox that lives on `recorded`, with the fix for where `asked`
/// came from (the flag, or the environment variable `env` holds).
fn mismatch(name: &str, recorded: EngineKind, asked: EngineKind, command: &str, env: Option<&str>) -> String {
    let from_env = env.is_some_and(|v| v == asked.binary());
    let how = if from_env { format!("{ENV}={asked}") } else { format!("--engine {asked}") };
    let fix =
        if from_env { format!("unset {ENV} or set it to {recorded}") } else { format!("use --engine {recorded}") };
    format!(
        "sandbox `{name}` lives on {recorded}, not {asked} ({how}): nothing was changed, its containers, volumes and keys stay on {recorded}. To {command} it, {fix} (or drop it: the state says {recorded}); for a sandbox on {asked}, pick another --name"
    )
}

impl Engine {
    /// The engine that a command on sandbox `name` means (see [`EngineKind::resolve`]), not yet
    /// asked whether it answers when its kind is known (recorded or asked for): the caller asks
    /// [`Engine::answering`] beside its first calls, or knows from them. With neither, the first
    /// engine that answers.
    pub fn for_sandbox_unasked(
        sh: &Shell,
        name: &str,
        requested: Option<EngineKind>,
        recorded: Option<EngineKind>,
        command: &str,
    ) -> Result<Engine> {
        match EngineKind::resolve(name, requested, recorded, command)? {
            Some(kind) => Engine::find(kind),
            None => Engine::detect(sh, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EngineKind::{Docker, Podman};

    #[test]
    fn the_recorded_engine_wins_and_another_is_refused() {
        assert_eq!(EngineKind::resolve("ts", None, Some(Podman), "destroy").unwrap(), Some(Podman));
        assert_eq!(EngineKind::resolve("ts", Some(Podman), Some(Podman), "destroy").unwrap(), Some(Podman));
        assert_eq!(EngineKind::resolve("ts", Some(Docker), None, "destroy").unwrap(), Some(Docker));
        assert_eq!(EngineKind::resolve("ts", None, None, "destroy").unwrap(), None);
        let err = EngineKind::resolve("ts", Some(Docker), Some(Podman), "destroy").unwrap_err().to_string();
        assert!(err.starts_with("sandbox `ts` lives on podman, not docker ("), "{err}");
        assert!(err.contains("nothing was changed") && err.contains("To destroy it"), "{err}");
    }

    #[test]
    fn the_other_engine_is_refused_with_the_fix_for_where_it_came_from() {
        let flag = mismatch("ts", Podman, Docker, "destroy", None);
        assert!(flag.contains("lives on podman, not docker (--engine docker)"), "{flag}");
        assert!(flag.contains("nothing was changed") && flag.contains("use --engine podman"), "{flag}");
        let env = mismatch("ts", Podman, Docker, "destroy", Some("docker"));
        assert!(env.contains("(TRUST_SANDBOX_ENGINE=docker)"), "{env}");
        assert!(env.contains("unset TRUST_SANDBOX_ENGINE or set it to podman"), "{env}");
    }

    #[test]
    fn without_a_word_on_the_engine_both_are_searched() {
        assert_eq!(EngineKind::candidates(Some(Podman), Some(Docker)), [Podman]);
        assert_eq!(EngineKind::candidates(None, Some(Docker)), [Docker]);
        assert_eq!(EngineKind::candidates(None, None), [Docker, Podman]);
    }
}
