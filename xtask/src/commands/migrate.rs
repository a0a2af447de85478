//! `migrate [--to cosign|notation|both] [--json FILE]`: every DCT-signed tag of the sandbox,
//! re-signed by the digest DCT signed, verified, and reported; safe to repeat.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::cli::{MigrateArgs, MigrateTo};
use crate::migrate::signers::{ImageChoice, Signers};
use crate::migrate::tools::Tool;
use crate::sandbox::{readiness, Sandbox, Selector};
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector, args: &MigrateArgs) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    require_up(sh, &sb)?;
    let tools = match args.to {
        MigrateTo::Cosign => vec![Tool::Cosign],
        MigrateTo::Notation => vec![Tool::Notation],
        MigrateTo::Both => vec![Tool::Cosign, Tool::Notation],
    };
    let choice = ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() };
    let signers = Signers::start(sh, &sb, &choice)?;
    crate::signals::catch(
        "killing the running command's processes in the signers container, then writing the report so far",
    )?;
    let report = crate::migrate::run(sh, &sb, &signers, &tools)?;
    // With `--json -` stdout carries the JSON only.
    let to_stdout = args.json.json.as_deref() == Some("-");
    let human = format!("{}\n", crate::migrate::table(&report));
    if to_stdout {
        eprint!("{human}");
    } else {
        print!("{human}");
    }
    for u in &report.without_signed_tags {
        ui::info("Skipped", format!("{}: {}", u.repository, u.reason));
    }
    if report.signed == 0 && report.failed == 0 {
        ui::status("Unchanged", format!("{} signature(s) already there: nothing signed twice", report.already_signed));
    } else {
        ui::status(
            "Migrated",
            format!("{} signed now, {} already there, {} failed", report.signed, report.already_signed, report.failed),
        );
    }
    let exec = format!("{} exec {}", sb.engine.kind, signers.container);
    let commands = crate::migrate::consumer_commands(&report, &exec, &sb.spec.registry_address()?);
    if to_stdout {
        eprint!("\n{commands}");
    } else {
        print!("\n{commands}");
    }
    args.json.write(&report)?;
    for n in &report.not_migrated {
        ui::warn(format!(
            "not migrated: {} ({}) with {}: {}",
            n.tag,
            crate::migrate::short(&n.digest),
            n.tool,
            n.reason
        ));
    }
    if let Some(sig) = crate::signals::caught() {
        ui::warn(format!(
            "interrupted by {sig}: the running command's processes were killed; the report holds what was done (exit {})",
            sig.exit_code()
        ));
        return Ok(ExitCode::from(sig.exit_code()));
    }
    if !report.not_migrated.is_empty() {
        ui::warn(format!(
            "{} signature(s) asked for are missing: a DCT-signed tag is not fully migrated (listed above)",
            report.not_migrated.len()
        ));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The registry, the Notary server and the client must answer; nothing is started otherwise.
pub fn require_up(sh: &Shell, sb: &Sandbox) -> Result<()> {
    for svc in &sb.spec.services {
        let name = &svc.name;
        if let Err(e) = readiness::probe_once(sh, sb, svc) {
            bail!("sandbox `{}` is not up ({name}: {e:#}): run `cargo xtask sandbox up` first", sb.name);
        }
    }
    Ok(())
}
