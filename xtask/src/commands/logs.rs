//! `logs`: a service's log, from the engine.

use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::LogsArgs;
use crate::sandbox::{Sandbox, Selector};

pub fn run(sh: &Shell, sel: &Selector, a: &LogsArgs) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    sb.spec.service(&a.service)?;
    let name = sb.container(&a.service);
    let bin = &sb.engine.bin;
    let tail = a.tail.to_string();
    let follow: &[&str] = if a.follow { &["--follow"] } else { &[] };
    xshell::cmd!(sh, "{bin} logs --tail {tail} {follow...} {name}")
        .quiet()
        .run()
        .with_context(|| format!("reading the log of {}", a.service))?;
    Ok(ExitCode::SUCCESS)
}
