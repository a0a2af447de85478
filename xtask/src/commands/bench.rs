//! `bench`: performance against plain-engine baselines (the work lives in `crate::bench`).

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::BenchArgs;
use crate::sandbox::Selector;

pub fn run(sh: &Shell, sel: &Selector, a: &BenchArgs) -> Result<ExitCode> {
    crate::bench::run(sh, sel, a)?;
    Ok(ExitCode::SUCCESS)
}
