//! `scenario list` and `scenario run`: the scenario catalogue, and running scenarios (by name,
//! all, or from files) against the running sandbox.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::cli::{JsonFlag, RunArgs, ScenarioCommand};
use crate::sandbox::{status, Sandbox, Selector};
use crate::scenario::{self, Scenario};
use crate::session;

pub fn run(sh: &Shell, sel: &Selector, command: ScenarioCommand) -> Result<ExitCode> {
    match command {
        ScenarioCommand::List(j) => list(&j).map(|()| ExitCode::SUCCESS),
        ScenarioCommand::Run { names, all, files, run } => run_named(sh, sel, &names, all, &files, &run),
    }
}

fn run_named(
    sh: &Shell,
    sel: &Selector,
    names: &[String],
    all: bool,
    files: &[PathBuf],
    args: &RunArgs,
) -> Result<ExitCode> {
    let opts = super::session_options(args);
    session::check_paths(&opts)?;
    let mut scenarios = match (all, names.is_empty()) {
        (true, true) => scenario::catalogue()?,
        (false, _) => names.iter().map(|n| scenario::find(n)).collect::<Result<Vec<_>>>()?,
        (true, false) => bail!("give scenario names or --all, not both"),
    };
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading scenario file {}", f.display()))?;
        scenarios.push(Scenario::from_toml(&text, &f.display().to_string())?);
    }
    if scenarios.is_empty() {
        bail!("name a scenario (see `cargo xtask sandbox scenario list`), pass --all, or --file PATH");
    }
    let sb = Sandbox::open_required(sh, sel)?;
    if !status::all_ready(sh, &sb) {
        bail!("sandbox `{}` is not fully up: run `cargo xtask sandbox up` (see `status`)", sb.name);
    }
    session::run(sh, &sb, &scenarios, &opts)
}

fn list(json: &JsonFlag) -> Result<()> {
    let all = scenario::catalogue()?;
    let v: Vec<serde_json::Value> = all
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "summary": s.summary, "steps": s.steps.len() }))
        .collect();
    if !json.write(&v)? {
        let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &all {
            println!("{:<width$} {:>2} steps  {}", s.name, s.steps.len(), s.summary);
        }
    }
    Ok(())
}
