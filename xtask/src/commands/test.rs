//! `cargo xtask test`: what a fresh machine needs for the whole test suite, then the suite itself —
//! lints, the offline Nix checks, unit tests, and the end-to-end tests on docker and podman.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::engine::EngineKind;
use crate::{host, ui};

/// Host tools the tests use from outside the sandbox: curl and notary (the guide's host-side
/// commands), nix-instantiate (the Nix drift check).
const HOST_TOOLS: [(&str, &str); 3] = [("curl", "curl"), ("notary", "notary"), ("nix-instantiate", "nix-bin")];

pub fn run(sh: &Shell, yes: bool, unit_only: bool) -> Result<ExitCode> {
    let root = crate::sandbox::spec::source_root();
    let _dir = sh.push_dir(&root);

    if !unit_only {
        host::setup(sh, &[EngineKind::Docker, EngineKind::Podman], yes).context("setting up both engines")?;
        let missing: Vec<&str> =
            HOST_TOOLS.iter().filter(|(bin, _)| which::which(bin).is_err()).map(|(_, pkg)| *pkg).collect();
        host::apt_install(sh, &missing, yes)?;
    }

    ui::status("Checking", "formatting and lints");
    cmd!(sh, "cargo fmt --all -- --check").run().context("cargo fmt --check: run `cargo fmt`")?;
    cmd!(sh, "cargo clippy --workspace --all-targets --quiet -- -D warnings").run().context("clippy")?;

    if unit_only {
        ui::status("Testing", "unit tests (no engines)");
        cmd!(sh, "cargo test --package xtask").run().context("unit tests")?;
        return Ok(ExitCode::SUCCESS);
    }

    ui::status("Checking", "Nix code offline (parse, deadnix, lock, drift)");
    let yes_flag: &[&str] = if yes { &["--yes"] } else { &[] };
    cmd!(sh, "bash nix/check-offline.sh {yes_flag...}").run().context("nix/check-offline.sh")?;

    ui::status("Testing", "unit tests (no engines)");
    cmd!(sh, "cargo test --package xtask").run().context("unit tests")?;
    // Named explicitly: the workspace's default members leave it out of a plain `cargo test`.
    // Each of its tests fails when its engine does not answer.
    ui::status("Testing", "end-to-end tests on docker and podman");
    if cmd!(sh, "cargo test --package trust-sandbox-tests").run().is_err() {
        bail!("end-to-end tests failed (see above)");
    }
    Ok(ExitCode::SUCCESS)
}
