//! Crash recovery: from a stack whose five main processes were killed with SIGKILL to all ready
//! again through `up` (the engine's restart policy, then `up`'s repair and readiness), against a
//! plain `restart -t 0` of the same containers followed by until-ready loops. Both start from an
//! all-ready stack; the order alternates so neither always meets the colder machine.

use std::time::Instant;

use anyhow::{Context, Result};
use xshell::Shell;

use super::baselines::Plain;
use super::report::Row;
use super::secs_since;
use crate::sandbox::{lifecycle, Sandbox, Selector, UpOptions};

pub(super) fn row() -> Row {
    Row::new(
        "crash_recovery",
        "SIGKILLed stack -> ready",
        "s",
        // `up` re-checks what it finds (ownership, images, every probe) where the baseline only
        // waits; the target leaves room for that, as for the warm `up`.
        super::report::Goal::MaxRatio(1.5),
        "`restart -t 0` of the same five containers, then an until-ready loop for each",
    )
}

/// Each run: our side kills all five main processes and times `up`; the plain side restarts the
/// five with the engine and times until each answers.
pub(super) fn measure(
    sh: &Shell,
    plain: &Plain<'_>,
    bench: &Selector,
    up_opts: &UpOptions,
    mut sb: Sandbox,
    runs: usize,
    row: &mut Row,
) {
    super::alternate(
        runs,
        row,
        ("crash recovery", "plain restart", "SIGKILL, then up", "plain restart"),
        || {
            let (fresh, secs) = killed_then_up(sh, &sb, bench, up_opts)?;
            sb = fresh;
            Ok(secs)
        },
        || {
            let t = Instant::now();
            plain.restart().map(|()| secs_since(t))
        },
    );
}

fn killed_then_up(sh: &Shell, sb: &Sandbox, bench: &Selector, up_opts: &UpOptions) -> Result<(Sandbox, f64)> {
    for svc in &sb.spec.services {
        sb.engine.kill_main_process(sh, &sb.container(&svc.name)).with_context(|| format!("killing {}", svc.name))?;
    }
    let t = Instant::now();
    let fresh = lifecycle::up(sh, bench, up_opts).context("up after the kill")?;
    Ok((fresh, secs_since(t)))
}
