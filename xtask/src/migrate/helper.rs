//! The sandbox's on-demand helper containers (`signers`, `consumer`): started only by the
//! commands that need them, on the sandbox's network and with its labels (so `down` and `destroy`
//! remove them like every other container), kept alive by `sleep infinity` for `exec`.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::engine::RunSpec;
use crate::sandbox::Sandbox;

/// The run spec every helper shares; the caller adds its environment, mounts and capabilities.
pub fn spec(sb: &Sandbox, name: &str, image: &str) -> RunSpec {
    RunSpec {
        name: sb.container(name),
        image: image.to_string(),
        network: sb.network(),
        hostname: name.into(),
        // Name, id and owning state directory, as every object of the sandbox carries.
        labels: sb.labels(Some(name)),
        // A helper that only waits for `exec`: nothing to restart. Nor may anything restart it:
        // an unclean stop leaves its runtime state (the consumer's podman keeps its run root in
        // /run) in the writable layer, so `ensure` recreates a stopped helper rather than starting
        // it again, and `up`'s repair of wedged services leaves helpers alone.
        restart: None,
        command: vec!["sleep".into(), "infinity".into()],
        ..RunSpec::default()
    }
}

/// Keeps the helper if it runs `spec`'s image, else (re)starts it; true when it was started.
pub fn ensure(sh: &Shell, sb: &Sandbox, spec: &RunSpec) -> Result<bool> {
    let engine = &sb.engine;
    if !engine.network_exists(sh, &sb.network())? {
        bail!("sandbox `{}` is not up (no network): run `cargo xtask sandbox up` first", sb.name);
    }
    if let Some(c) = engine.container(sh, &spec.name)? {
        if c.running && c.image == spec.image {
            return Ok(false);
        }
        // Only one that carries this sandbox's labels goes (the one removal rule).
        sb.remove_own_containers(sh, std::slice::from_ref(&spec.name))?;
    }
    engine.run(sh, spec).with_context(|| format!("starting the helper container {}", spec.name))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineKind};
    use crate::sandbox::state;

    #[test]
    fn a_helper_is_never_restarted_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = state::Dir { path: tmp.path().join("h") };
        let st = dir.create("h", EngineKind::Docker, (14443, 15000), state::RegistryMode::default()).unwrap();
        let table = crate::table::load().unwrap();
        let sb =
            Sandbox { name: "h".into(), dir, state: st, engine: Engine::stand_in(EngineKind::Docker), spec: table };
        for helper in sb.spec.helper_names() {
            let run = super::spec(&sb, helper, "img");
            assert_eq!(run.restart, None, "{helper}: a restart would reuse the runtime state an unclean stop left");
            assert!(sb.spec.service(helper).is_err(), "{helper} is no service: `up` neither waits for nor repairs it");
        }
    }
}
