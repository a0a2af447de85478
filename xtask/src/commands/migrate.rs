//! `migrate [--to cosign|notation|both] [--cosign-format bundle|legacy|both] [--kit DIR] [--json FILE]`:
//! every DCT-signed tag of the sandbox, re-signed by the digest DCT signed in every format asked
//! for, verified, and reported; the consumer kit written beside the key; safe to repeat.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::cli::{MigrateArgs, MigrateTo};
use crate::migrate::signers::ImageChoice;
use crate::migrate::signing::Format;
use crate::migrate::{self, kit};
use crate::sandbox::{readiness, Sandbox, Selector};
use crate::ui;

/// The formats `--to` and `--cosign-format` ask for.
pub fn formats(args: &MigrateArgs) -> Vec<Format> {
    let mut f = Vec::new();
    if matches!(args.to, MigrateTo::Cosign | MigrateTo::Both) {
        f.extend(args.cosign_format.formats());
    }
    if matches!(args.to, MigrateTo::Notation | MigrateTo::Both) {
        f.push(Format::Notation);
    }
    f
}

pub fn run(sh: &Shell, sel: &Selector, args: &MigrateArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.verify_archive {
        return super::migrate_from::verify_archive(dir, args);
    }
    if args.from.from.is_some() {
        return super::migrate_from::run(sh, sel, args);
    }
    if args.from.at.is_some() {
        bail!("--at goes with --from or --verify-archive");
    }
    let sb = Sandbox::open_required(sh, sel)?;
    if !sb.state.registry.is_plain() {
        bail!(
            "sandbox `{}` was made with {}: `migrate` re-signs a plain sandbox's own repositories; for a registry with TLS and auth use `migrate --from` (it is what such a sandbox stands in for)",
            sb.name,
            sb.state.registry.flags()
        );
    }
    require_up(sh, &sb)?;
    let opts = migrate::Options {
        formats: formats(args),
        kit_dir: args.kit.clone().unwrap_or_else(|| kit::default_dir(&sb)),
        images: ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() },
        only: None,
    };
    let signers = migrate::start(sh, &sb, &opts)?;
    crate::signals::catch(
        "killing the running command's processes in the signers container, then writing the report so far",
    )?;
    let report = migrate::migrate(sh, &sb, &signers, &opts)?;
    // With `--json -` stdout carries the JSON only.
    let to_stdout = args.json.json.as_deref() == Some("-");
    let human = format!("{}\n", migrate::table(&report));
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
    let commands = migrate::consumer_commands(&report, &exec, &sb.spec.registry_address()?);
    if to_stdout {
        eprint!("\n{commands}");
    } else {
        print!("\n{commands}");
    }
    args.json.write(&report)?;
    for n in &report.not_migrated {
        ui::warn(format!(
            "not migrated: {} ({}) in {}: {}",
            n.tag,
            migrate::short(&n.digest),
            n.format.name(),
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
