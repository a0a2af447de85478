//! `migrate [--to cosign|notation|both] [--json FILE]`: every DCT-signed tag of the sandbox,
//! re-signed by the digest DCT signed, verified, and reported; safe to repeat.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::cli::{MigrateArgs, MigrateTo};
use crate::migrate::signers::{ImageChoice, Signers};
use crate::migrate::tools::Tool;
use crate::sandbox::{readiness, Sandbox, Selector};
use crate::scenario::mask::Masker;
use crate::{html, ui};

pub fn run(sh: &Shell, sel: &Selector, args: &MigrateArgs) -> Result<ExitCode> {
    if let Some(path) = &args.html {
        html::check_writable(path)?;
    }
    let sb = Sandbox::open_required(sh, sel)?;
    require_up(sh, &sb)?;
    let tools = match args.to {
        MigrateTo::Cosign => vec![Tool::Cosign],
        MigrateTo::Notation => vec![Tool::Notation],
        MigrateTo::Both => vec![Tool::Cosign, Tool::Notation],
    };
    let choice = ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() };
    let signers = Signers::start(sh, &sb, &choice)?;
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
    let commands = crate::migrate::consumer_commands(&report, &exec);
    if to_stdout {
        eprint!("\n{commands}");
    } else {
        print!("\n{commands}");
    }
    args.json.write(&report)?;
    if let Some(path) = &args.html {
        let origins = origins(sh, &sb, &report);
        let masker = report_masker(&sb, &signers)?;
        html::write_timed(path, || crate::migrate::html::render_migrate(&report, &origins, &commands, &masker))?;
    }
    Ok(if report.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The server's trust data of each migrated repository: where the signed digests come from.
fn origins(sh: &Shell, sb: &Sandbox, report: &crate::migrate::Report) -> Vec<crate::trust::view::TrustView> {
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
