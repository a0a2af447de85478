//! Which engine a command means: the one a sandbox's state records (`--engine` may only repeat
//! it), else the one asked for, else the first that answers. Decided here, once, for every
//! command; the caller reads the state and hands over what it records.

use anyhow::{bail, Result};
use xshell::Shell;

use super::{Engine, EngineKind};

impl EngineKind {
    /// The engine a command on sandbox `name` means, given `--engine` (`requested`) and the
    /// engine its state records (`recorded`, None when it has no state); None: the first that
    /// answers.
    pub fn resolve(
        name: &str,
        requested: Option<EngineKind>,
        recorded: Option<EngineKind>,
    ) -> Result<Option<EngineKind>> {
        match (recorded, requested) {
            (Some(lives_on), Some(asked)) if lives_on != asked => bail!(
                "sandbox `{name}` lives on {lives_on}, not {asked}: drop --engine, pick another --name, or `destroy` it first"
            ),
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

impl Engine {
    /// The engine, answering, that a command on sandbox `name` means (see [`EngineKind::resolve`]).
    pub fn for_sandbox(
        sh: &Shell,
        name: &str,
        requested: Option<EngineKind>,
        recorded: Option<EngineKind>,
    ) -> Result<Engine> {
        Engine::detect(sh, EngineKind::resolve(name, requested, recorded)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EngineKind::{Docker, Podman};

    #[test]
    fn the_recorded_engine_wins_and_another_is_refused() {
        assert_eq!(EngineKind::resolve("ts", None, Some(Podman)).unwrap(), Some(Podman));
        assert_eq!(EngineKind::resolve("ts", Some(Podman), Some(Podman)).unwrap(), Some(Podman));
        assert_eq!(EngineKind::resolve("ts", Some(Docker), None).unwrap(), Some(Docker));
        assert_eq!(EngineKind::resolve("ts", None, None).unwrap(), None);
        let err = EngineKind::resolve("ts", Some(Docker), Some(Podman)).unwrap_err().to_string();
        assert_eq!(
            err,
            "sandbox `ts` lives on podman, not docker: drop --engine, pick another --name, or `destroy` it first"
        );
    }

    #[test]
    fn without_a_word_on_the_engine_both_are_searched() {
        assert_eq!(EngineKind::candidates(Some(Podman), Some(Docker)), [Podman]);
        assert_eq!(EngineKind::candidates(None, Some(Docker)), [Docker]);
        assert_eq!(EngineKind::candidates(None, None), [Docker, Podman]);
    }
}
