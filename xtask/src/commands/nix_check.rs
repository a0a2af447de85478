//! `cargo xtask nix-check`: the flake checked by a current Nix, then the drift check (crate::nixcheck).

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::NixCheckArgs;
use crate::nixcheck::{self, Options};

pub fn run(sh: &Shell, a: NixCheckArgs) -> Result<ExitCode> {
    let opts =
        Options { yes: a.yes, flake: a.flake, debian_facts: a.debian_facts, facts_out: a.facts_out, mirror: a.mirror };
    nixcheck::run(sh, &opts)?;
    Ok(ExitCode::SUCCESS)
}
