//! `cargo xtask test`: what a fresh machine needs for the whole test suite, then the suite itself —
//! lints, the Nix check (crate::nixcheck), unit tests, and the end-to-end tests on docker and podman.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::engine::EngineKind;
use crate::{host, ui};

/// Host tools the tests use from outside the sandbox: curl and notary (the guide's host-side
/// commands), docker-compose (runs the exported Compose file), catatonit (podman builds the
/// pause image of `kube play`'s pods from it; no pull) and chromium (opens the HTML reports
/// headless, as a reader would). Nix is not one: the Nix check installs its own in a throwaway root.
const HOST_TOOLS: [(&str, &str); 5] = [
    ("curl", "curl"),
    ("notary", "notary"),
    ("docker-compose", "docker-compose"),
    ("catatonit", "catatonit"),
    ("chromium", "chromium"),
];

pub fn run(sh: &Shell, yes: bool, unit_only: bool) -> Result<ExitCode> {
    let root = crate::table::source_root();
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

    ui::status("Checking", "the flake with a current Nix, and drift between the Nix and Debian images");
    let opts = crate::nixcheck::Options { yes, ..Default::default() };
    crate::nixcheck::run(sh, &opts).context("the Nix check (`cargo xtask nix-check`)")?;

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
