//! `migrate [--to cosign|notation|both] [--cosign-format bundle|legacy|both] [--kit DIR] [--json FILE]`:
//! every DCT-signed tag of the sandbox, re-signed by the digest DCT signed in every format asked
//! for, verified, and reported; the consumer kit written beside the key; safe to repeat.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::cli::{MigrateArgs, MigrateTo};
use crate::migrate::signers::{ImageChoice, Signers};
use crate::migrate::signing::Format;
use crate::migrate::{self, kit};
use crate::sandbox::{readiness, Sandbox, Selector};
use crate::step::mask::Masker;
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
    if args.html.is_some() && (args.verify_archive.is_some() || args.from.from.is_some()) {
        bail!("--html draws the page of the sandbox's own migration; `migrate --from` and `--verify-archive` report with --json");
    }
    if let Some(dir) = &args.verify_archive {
        return super::migrate_from::verify_archive(dir, args);
    }
    if args.from.from.is_some() {
        return super::migrate_from::run(sh, sel, args);
    }
    if args.from.at.is_some() {
        bail!("--at goes with --from or --verify-archive");
    }
    if let Some(path) = &args.html {
        crate::session::reports::check_page(path)?;
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
    if let Some(path) = &args.html {
        // Written however the run ended: an interrupted migration's page says so (without the
        // trust trees, which would take more engine calls after the signal).
        let origins = if crate::signals::caught().is_none() { origins(sh, &sb, &report) } else { Vec::new() };
        let masker = report_masker(&sb, &signers)?;
        let kit_files = kit::listed(&opts.kit_dir);
        let extras = migrate::html::Extras { origins: &origins, commands: &commands, kit_files: &kit_files };
        crate::session::reports::write_page(path, || migrate::html::render(&report, &extras, &masker))?;
    }
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

/// The server's trust data of each migrated repository: where the signed digests come from.
fn origins(sh: &Shell, sb: &Sandbox, report: &migrate::Report) -> Vec<crate::trust::view::TrustView> {
    let mut repos: Vec<&str> = report.records.iter().map(|r| r.repository.as_str()).collect();
    repos.dedup();
    repos
        .into_iter()
        .filter_map(|gun| match crate::trust::snapshot(sh, sb, gun, None, crate::trust::Verify::AskClients) {
            Ok(v) => Some(v),
            Err(e) => {
                ui::warn(format!("the HTML page leaves out the trust data of {gun}: {e:#}"));
                None
            }
        })
        .collect()
}

/// Masks the sandbox's secrets and the signers' in pages made from migrate and compare results.
pub fn report_masker(sb: &Sandbox, signers: &Signers<'_>) -> Result<Masker> {
    let mut secrets = sb.secrets()?.values();
    secrets.extend(signers.secrets());
    Ok(Masker::new(&secrets))
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
