//! `cargo xtask sandbox …`: a local, pinned Docker Content Trust sandbox.
//!
//! `main` only parses, builds the one `Shell`, and dispatches; each command lives in its own module.

mod bench;
mod cli;
mod db;
mod engine;
mod hostenv;
mod hosts;
mod images;
mod lock;
mod pki;
mod play;
mod ports;
mod probe;
mod render;
mod sandbox;
mod scenario;
mod setup;
mod spec;
mod stack;
mod state;
mod testsuite;
mod ui;
mod versions;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result = xshell::Shell::new().map_err(anyhow::Error::from).and_then(|sh| sandbox::dispatch(&sh, cli));
    match result {
        Ok(code) => code,
        Err(err) => {
            ui::error(&err);
            std::process::ExitCode::FAILURE
        }
    }
}
