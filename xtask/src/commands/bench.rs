//! `bench`: performance against plain-engine baselines (the work lives in `crate::bench`).

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::BenchArgs;
use crate::sandbox::Selector;
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector, a: &BenchArgs) -> Result<ExitCode> {
    let measured = crate::bench::run(sh, sel, a.runs, a.cold_build, a.catalogue_runs)?;
    if !a.json.write(&measured.doc)? {
        print!("{}", measured.table);
    }
    if let Some(path) = a.json.json.as_deref().filter(|p| *p != "-") {
        ui::status("Wrote", path);
    }
    Ok(ExitCode::SUCCESS)
}
