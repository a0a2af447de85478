//! One file per user-facing command; `dispatch` maps the parsed command line to them.

mod bench;
mod compare;
mod destroy;
mod doctor;
mod down;
mod env;
mod exec;
mod export;
mod hosts;
mod images;
mod logs;
mod migrate;
// `migrate --from` and `--verify-archive`: the same command against servers you own.
mod migrate_from;
mod nix_check;
mod play;
mod scenario;
mod setup;
mod shell;
mod status;
mod test;
mod trust;
mod up;
mod versions;

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::{Cli, Command, JsonFlag, PlayArgs, RunArgs, Task};
use crate::sandbox::Selector;

/// What a scenario session (`crate::session`) takes from the run flags.
fn session_options(a: &RunArgs) -> crate::session::Options {
    crate::session::Options {
        step: a.step,
        keep_going: a.keep_going,
        json: a.json.json.clone(),
        junit: a.junit.clone(),
        html: a.html.clone(),
    }
}

pub fn dispatch(sh: &Shell, cli: Cli) -> Result<ExitCode> {
    let args = match cli.task {
        Task::Sandbox(args) => args,
        Task::Test(t) => return test::run(sh, t.yes, t.unit),
        Task::NixCheck(a) => return nix_check::run(sh, a),
    };
    let sel = Selector { name: args.name.clone(), engine: args.engine };
    let command = args.command.unwrap_or_else(|| {
        Command::Play(PlayArgs {
            up: up::default_args(),
            run: RunArgs { step: false, keep_going: false, json: JsonFlag::default(), junit: None, html: None },
        })
    });
    // Commands that change the sandbox take turns (the lock is released when `_lock` drops).
    let changes = match &command {
        Command::Up(_) | Command::Down | Command::Destroy | Command::Play(_) | Command::Bench(_) => true,
        Command::Migrate(_) | Command::Compare(_) => true,
        Command::Scenario(a) => matches!(a.command, crate::cli::ScenarioCommand::Run { .. }),
        _ => false,
    };
    let _lock = if changes { Some(crate::sandbox::lock::acquire(&sel.name, command.verb())?) } else { None };
    match command {
        Command::Up(a) => up::run(sh, &sel, &a),
        Command::Down => down::run(sh, &sel),
        Command::Destroy => destroy::run(sh, &sel),
        Command::Status(j) => status::run(sh, &sel, &j),
        Command::Logs(a) => logs::run(sh, &sel, &a),
        Command::Versions(j) => versions::run(sh, &sel, &j),
        Command::Images(a) => images::run(sh, &sel, a.command),
        Command::Setup(a) => setup::run(sh, &sel, &a),
        Command::Doctor => doctor::run(sh, &sel),
        Command::Play(a) => play::run(sh, &sel, &a),
        Command::Scenario(a) => scenario::run(sh, &sel, a.command),
        Command::Shell => shell::run(sh, &sel),
        Command::Exec(a) => exec::run(sh, &sel, &a),
        Command::Hosts(a) => hosts::run(&a),
        Command::Env => env::run(sh, &sel),
        Command::Bench(a) => bench::run(sh, &sel, &a),
        Command::Export(a) => export::run(sh, &sel, &a),
        Command::Migrate(a) => migrate::run(sh, &sel, &a),
        Command::Compare(a) => compare::run(sh, &sel, &a),
        Command::Trust(a) => trust::run(sh, &sel, &a),
    }
}
