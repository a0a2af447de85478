//! `migrate --from NOTARY --registry REGISTRY [REPOSITORY…] [--plan | --archive DIR | --apply]`
//! and `migrate --verify-archive DIR`: the move off a Notary server you own (see
//! `migrate::remote`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde::Serialize;
use xshell::Shell;

use crate::cli::MigrateArgs;
use crate::migrate::remote::{self, apply, archive, evidence, keys, plan, Remote};
use crate::migrate::signers::ImageChoice;
use crate::sandbox::{Sandbox, Selector};
use crate::step::mask::Masker;
use crate::ui;

/// What `--json` gets: the plan always, the archive's manifest and the evidence when made.
#[derive(Serialize)]
struct Report<'a> {
    plan: &'a plan::Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<archive::Manifest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<evidence::Evidence>,
}

fn keys(args: &MigrateArgs) -> keys::Keys {
    let a = &args.from;
    let notation = match (&a.notation_key, &a.notation_cert, &a.notation_key_file) {
        (Some(name), _, _) => {
            let config = a.notation_config.clone().unwrap_or_else(default_notation_config);
            Some(keys::NotationKey::Named { name: name.clone(), config })
        }
        (None, Some(cert), Some(key)) => Some(keys::NotationKey::Files { cert: cert.clone(), key: key.clone() }),
        _ => None,
    };
    keys::Keys { cosign: a.cosign_key.clone(), notation, cosign_format: Some(args.cosign_format) }
}

/// Notation's own default: `$XDG_CONFIG_HOME/notation`, else `~/.config/notation`.
fn default_notation_config() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_default()
        .join("notation")
}

/// Text for a terminal: on stdout, or on stderr when stdout carries the JSON.
fn say(json_to_stdout: bool, masker: &Masker, text: &str) {
    let text = masker.mask(text);
    if json_to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

pub fn run(sh: &Shell, sel: &Selector, args: &MigrateArgs) -> Result<ExitCode> {
    let a = &args.from;
    let now = time::OffsetDateTime::now_utc();
    let at = a.at.as_deref().map(|s| remote::parse_at(s, now)).transpose()?.unwrap_or(now);
    let source = remote::Source {
        notary_url: a.from.clone().unwrap_or_default(),
        registry_url: a.registry.clone().unwrap_or_default(),
        gun_prefix: a.gun_prefix.clone(),
        notary_ca: a.notary_ca.clone(),
        registry_ca: a.registry_ca.clone(),
        docker_config: a.docker_config.clone(),
    };
    let keys = keys(args);
    // Every key is checked before any server is asked.
    let described = keys.describe()?;
    // The sandbox that signs (its engine and signers image) must exist before anything is read.
    let sb = if a.apply { Some(Sandbox::open_required(sh, sel)?) } else { None };
    let remote = Remote::connect(&source)?;
    remote.registry.ping()?;
    let masker = Masker::new(&remote.secrets());
    let repositories = remote::repositories(&remote, &a.repositories, a.repos_file.as_deref(), a.catalog)?;
    ui::status(
        "Reading",
        format!(
            "{} repositor{} from {} and {}",
            repositories.len(),
            plural(repositories.len()),
            remote.notary.base,
            remote.registry.ep.base
        ),
    );
    let started = std::time::Instant::now();
    let (plan, verified) = plan::build(&remote, &repositories, at, described)?;
    let read_secs = started.elapsed().as_secs_f64();
    let to_stdout = args.json.json.as_deref() == Some("-");
    say(to_stdout, &masker, &format!("{}\n", plan::table(&plan)));
    let s = &plan.summary;
    ui::status(
        "Planned",
        format!(
            "{} signed tag(s) in {} repositor{}: {} to sign, {} not served, {} without trust data, {} invalid, {} expired ({read_secs:.1} s)",
            s.signed_tags,
            s.repositories,
            plural(s.repositories),
            s.to_sign,
            s.not_served,
            s.without_trust_data,
            s.invalid,
            s.expired_repositories
        ),
    );
    if plan.signing_keys.is_empty() {
        ui::info("Keys", "none given: --apply needs --cosign-key and/or --notation-key (or --notation-cert with --notation-key-file)");
    } else {
        for k in &plan.signing_keys {
            ui::info("Would sign", format!("with {k}"));
        }
    }
    let mut report = Report { plan: &plan, archive: None, evidence: None };
    if let Some(dir) = &a.archive {
        let manifest = archive::write(dir, &remote, &verified, now)?;
        let check = archive::verify(dir, None)?;
        if !check.valid {
            bail!("the archive just written in {} does not verify: {}", dir.display(), archive::check_table(&check));
        }
        let files: usize = manifest.repositories.iter().map(|r| r.files.len()).sum();
        ui::status(
            "Archived",
            format!(
                "{} repositor{} ({files} files) in {}; checked offline (cargo xtask sandbox migrate --verify-archive {})",
                manifest.repositories.len(),
                plural(manifest.repositories.len()),
                dir.display(),
                dir.display()
            ),
        );
        report.archive = Some(manifest);
    }
    let mut failed = s.invalid > 0;
    if a.apply {
        let sb = sb.expect("opened above");
        let evidence_path = a.evidence.clone().unwrap_or_else(|| sb.dir.path.join("migrate-from/evidence.json"));
        let setup = apply::Setup {
            sb: &sb,
            image: ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() },
            keys,
            registry_ca: a.registry_ca.clone(),
            evidence: evidence_path.clone(),
            allow_expired: a.allow_expired_trust_data,
            kit: args.kit.clone().unwrap_or_else(|| sb.dir.path.join("migrate-from/kit")),
        };
        let started = std::time::Instant::now();
        let evidence = apply::run(sh, &setup, &remote, &plan, &verified)?;
        say(to_stdout, &masker, &format!("\n{}", evidence::table(&evidence)));
        if evidence.signed == 0 && evidence.failed == 0 {
            ui::status(
                "Unchanged",
                format!("{} signature(s) already there: nothing signed twice", evidence.already_signed),
            );
        } else {
            ui::status(
                "Migrated",
                format!(
                    "{} signed now, {} already there, {} failed ({:.1} s)",
                    evidence.signed,
                    evidence.already_signed,
                    evidence.failed,
                    started.elapsed().as_secs_f64()
                ),
            );
        }
        ui::info("Evidence", evidence_path.display().to_string());
        failed |= evidence.failed > 0;
        report.evidence = Some(evidence);
    }
    if let Some(target) = args.json.json.as_deref() {
        let text = masker.mask(&serde_json::to_string_pretty(&report)?) + "\n";
        if target == "-" {
            print!("{text}");
        } else {
            crate::util::write_mode(Path::new(target), text.as_bytes(), 0o644)?;
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub fn verify_archive(dir: &Path, args: &MigrateArgs) -> Result<ExitCode> {
    let now = time::OffsetDateTime::now_utc();
    let at = args.from.at.as_deref().map(|s| remote::parse_at(s, now)).transpose()?;
    let check = archive::verify(dir, at)?;
    let to_stdout = args.json.json.as_deref() == Some("-");
    say(to_stdout, &Masker::default(), &archive::check_table(&check));
    args.json.write(&check)?;
    if check.valid {
        ui::status(
            "Verified",
            format!(
                "{} files of {} repositor{}, offline, against their roots (expiry judged at {})",
                check.files_checked,
                check.repositories.len(),
                plural(check.repositories.len()),
                check.at
            ),
        );
        Ok(ExitCode::SUCCESS)
    } else {
        ui::warn(format!("the archive in {} does not verify", dir.display()));
        Ok(ExitCode::FAILURE)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}
