//! `play` (also what `cargo xtask sandbox` alone does): bring the sandbox up if it is not fully
//! ready, then play the guide's scenario.

use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::PlayArgs;
use crate::sandbox::{lifecycle, status, Sandbox, Selector};
use crate::{scenario, session, timing, ui};

pub fn run(sh: &Shell, sel: &Selector, args: &PlayArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let opts = super::session_options(&args.run);
    session::check_paths(&opts)?;
    let up = super::up::options(&args.up);
    let scenario = scenario::find(scenario::GUIDE)?;
    let sb = match Sandbox::open(sh, sel)? {
        Some(sb) if status::all_ready(sh, &sb) => {
            ui::info("Using", format!("running sandbox `{}` on {}", sb.name, sb.engine.kind));
            sb
        }
        _ => timing::timed("up", || lifecycle::up(sh, sel, &up)).context("bringing the sandbox up")?,
    };
    let code = timing::timed("guide", || session::run(sh, &sb, &[scenario], &opts))?;
    timing::finish_play(started.elapsed().as_secs_f64(), &crate::util::cache_dir().join(timing::SETUP_RECORD));
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_exists() {
        assert_eq!(scenario::find(scenario::GUIDE).unwrap().name, "guide");
    }
}
