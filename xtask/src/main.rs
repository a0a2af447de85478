//! `cargo xtask sandbox …`: a local, pinned Docker Content Trust sandbox.
//!
//! `main` only parses, builds the one `Shell`, and dispatches; each command lives in its own file
//! under `commands/`.

mod bench;
mod cli;
mod commands;
mod compose_v2;
mod engine;
mod export;
mod host;
mod hosts_file;
mod html;
mod images;
mod migrate;
mod nixcheck;
mod sandbox;
mod scenario;
mod session;
mod signals;
mod step;
mod table;
mod timing;
mod trust;
mod tuf;
mod ui;
mod util;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result = xshell::Shell::new().map_err(anyhow::Error::from).and_then(|sh| commands::dispatch(&sh, cli));
    match result {
        Ok(code) => code,
        Err(err) => {
            ui::error(&err);
            std::process::ExitCode::FAILURE
        }
    }
}
