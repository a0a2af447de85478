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
    sb.engine.logs(sh, &name, a.tail, a.follow).with_context(|| format!("reading the log of {}", a.service))?;
    Ok(ExitCode::SUCCESS)
}
