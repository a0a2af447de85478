//! The move away from DCT, rehearsed: re-sign every DCT-signed tag of the sandbox by the digest
//! DCT signed, with cosign and Notation, and verify each signature (`migrate`); then show side by
//! side what each of the three refuses (`compare`).

pub mod compare;
pub mod consumer;
pub mod find;
pub mod helper;
pub mod html;
pub mod kit;
pub mod remote;
pub mod signers;
pub mod signing;
pub mod tools;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use xshell::Shell;

use crate::sandbox::Sandbox;
use crate::ui;
use find::SignedTag;
use signers::{ImageChoice, Signers};
use signing::{DigestRef, Format, FormatResult, Status};

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub repository: String,
    pub tag: String,
    pub dct_digest: String,
    pub dct_signers: Vec<String>,
    /// What the registry's tag points to now (None: the tag is gone).
    pub registry_digest: Option<String>,
    pub signed_digest_served: bool,
    /// Per format (asked for or not): what was done and which signatures are there now. Empty
    /// when the registry no longer serves the signed digest.
    pub signatures: Vec<FormatResult>,
    /// The formats the digest carries afterwards, verified with this sandbox's key/certificate.
    pub carries: Vec<Format>,
    pub note: String,
}

impl Record {
    pub fn status(&self, f: Format) -> Option<Status> {
        self.signatures.iter().find(|r| r.format == f).map(|r| r.status)
    }

    /// `repository:tag@digest`: the DCT-signed digest, deployable by digest.
    pub fn pinned(&self) -> String {
        format!("{}:{}@{}", self.repository, self.tag, self.dct_digest)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub sandbox: String,
    /// The formats asked for (`--to`, `--cosign-format`).
    pub formats: Vec<Format>,
    /// The signal that ended the run early; `records` then holds the tags done until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub records: Vec<Record>,
    /// Every signature asked for that a DCT-signed tag did not get, and why (failed, its digest
    /// no longer served, or not reached before an interruption): the exit status is non-zero
    /// when there is one.
    pub not_migrated: Vec<NotMigrated>,
    /// Repositories with trust data but no signed tag.
    pub without_signed_tags: Vec<Unsigned>,
    pub signed: usize,
    pub already_signed: usize,
    pub failed: usize,
    pub cosign_public_key: String,
    pub notation_certificate: String,
    pub notation_trust_policy: String,
    /// The consumer kit written beside them (set by the command once written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kit: Option<String>,
}

impl Report {
    /// A report of nothing migrated yet, in every format (for a kit before any `migrate`).
    pub fn empty(sb: &Sandbox, signers: &Signers<'_>) -> Report {
        Report {
            sandbox: sb.name.clone(),
            formats: Format::ALL.to_vec(),
            interrupted: None,
            records: vec![],
            not_migrated: vec![],
            without_signed_tags: vec![],
            signed: 0,
            already_signed: 0,
            failed: 0,
            cosign_public_key: signers.cosign_pub().display().to_string(),
            notation_certificate: signers.notation_cert().display().to_string(),
            notation_trust_policy: signers.trust_policy_file().display().to_string(),
            kit: None,
        }
    }
}

/// One format a DCT-signed tag was asked to get and did not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NotMigrated {
    /// `repository:tag`.
    pub tag: String,
    /// The digest DCT signed.
    pub digest: String,
    pub format: Format,
    /// Never empty.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unsigned {
    pub repository: String,
    pub reason: String,
}

/// What a migration is asked to do.
pub struct Options {
    pub formats: Vec<Format>,
    /// Where the consumer kit goes (default [`kit::default_dir`]).
    pub kit_dir: PathBuf,
    pub images: ImageChoice,
    /// Only this repository (GUN), e.g. a scenario's own; `None`: every one with trust data.
    pub only: Option<String>,
}

/// The first half of `migrate`: the kit directory is checked first (nothing is signed when it
/// cannot be written), then the signers container is started. A command catches signals after
/// this (see `crate::signals`), so a signal during an image build still ends the build at once.
pub fn start<'a>(sh: &Shell, sb: &'a Sandbox, opts: &Options) -> Result<Signers<'a>> {
    kit::preflight(&opts.kit_dir)?;
    Signers::start(sh, sb, &opts.images)
}

/// The rest of `migrate`, for the command and the scenarios' `migrate` action: every tag is
/// signed, then the kit is written from the same key and certificate (after a signal too: it
/// names what was migrated until then).
pub fn migrate(sh: &Shell, sb: &Sandbox, signers: &Signers<'_>, opts: &Options) -> Result<Report> {
    let mut report = run(sh, sb, signers, &opts.formats, opts.only.as_deref())?;
    let files = kit::render(&kit_input(sb, signers, &report)?)?;
    kit::write(&opts.kit_dir, &files)
        .with_context(|| format!("writing the consumer kit to {}", opts.kit_dir.display()))?;
    ui::status("Wrote", format!("the consumer kit {} ({} files, no secret)", opts.kit_dir.display(), files.len()));
    if !opts.formats.contains(&Format::CosignLegacy) && opts.formats.contains(&Format::CosignBundle) {
        ui::warn("no `.sig` (legacy) signatures written: podman, CRI-O, skopeo and buildah will refuse these images (`--cosign-format both`)");
    }
    report.kit = Some(opts.kit_dir.display().to_string());
    Ok(report)
}

/// What the kit is rendered from: the sandbox's public key, certificate and trust policy, its
/// registry's names, the formats and digests of `report`.
pub fn kit_input(sb: &Sandbox, signers: &Signers<'_>, report: &Report) -> Result<kit::Input> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    Ok(kit::Input {
        sandbox: sb.name.clone(),
        registry: sb.spec.registry_address()?,
        host_registry: format!("127.0.0.1:{}", sb.state.registry_port),
        plain_http: true,
        cosign_pub: read(&signers.cosign_pub())?,
        notation_cert: read(&signers.notation_cert())?,
        notation_policy: read(&signers.trust_policy_file())?,
        formats: report.formats.clone(),
        pinned: report.records.iter().filter(|r| !r.carries.is_empty()).map(Record::pinned).collect(),
        repositories: repositories(report, &sb.spec.registry_address()?),
    })
}

/// The migrated repositories' paths below `registry`, each once.
fn repositories(report: &Report, registry: &str) -> Vec<String> {
    let prefix = format!("{registry}/");
    let mut out: Vec<String> = report
        .records
        .iter()
        .filter(|r| !r.carries.is_empty())
        .filter_map(|r| r.repository.strip_prefix(&prefix).map(String::from))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Finds, signs and verifies in `formats`; never signs a format of a digest twice. A signal
/// (see `crate::signals`) stops it after killing the running command's processes: the report
/// then holds what was done, and names the tags not reached.
pub fn run(sh: &Shell, sb: &Sandbox, signers: &Signers<'_>, formats: &[Format], only: Option<&str>) -> Result<Report> {
    let mut guns = find::guns(sh, sb)?;
    guns.retain(|g| only.is_none_or(|o| g == o));
    ui::status(
        "Found",
        format!("{} repositor{} with DCT trust data", guns.len(), if guns.len() == 1 { "y" } else { "ies" }),
    );
    let (tags, unsigned) = find::signed_tags(sh, sb, &guns)?;
    let mut records = Vec::new();
    let mut interrupted = None;
    for t in &tags {
        if let Some(sig) = crate::signals::caught() {
            interrupted = Some(sig.name().to_string());
            break;
        }
        match migrate_tag(sh, signers, t, formats) {
            Ok(r) => records.push(r),
            Err(e) if crate::signals::caught().is_some() => {
                ui::warn(format!("{e:#}"));
                interrupted = crate::signals::caught().map(|s| s.name().to_string());
                break;
            }
            Err(e) => return Err(e.context(format!("migrating {}:{}", t.repository, t.tag))),
        }
    }
    let count = |want: Status| records.iter().flat_map(|r| &r.signatures).filter(|s| s.status == want).count();
    let mut not_migrated = not_migrated(&records, formats);
    let why = format!("not reached: the run was interrupted by {}", interrupted.as_deref().unwrap_or("a signal"));
    for t in tags.iter().skip(records.len()) {
        not_migrated.extend(formats.iter().map(|&format| NotMigrated {
            tag: format!("{}:{}", t.repository, t.tag),
            digest: t.digest.clone(),
            format,
            reason: why.clone(),
        }));
    }
    Ok(Report {
        formats: formats.to_vec(),
        interrupted,
        not_migrated,
        signed: count(Status::Signed),
        already_signed: count(Status::Already),
        failed: count(Status::Failed),
        records,
        without_signed_tags: unsigned
            .into_iter()
            .map(|u| Unsigned { repository: u.repository, reason: u.reason })
            .collect(),
        ..Report::empty(sb, signers)
    })
}

/// The formats asked for that a record did not get: failed, or not signed because the registry
/// no longer serves the signed digest. (A format left out by `--to`/`--cosign-format` is not one.)
fn not_migrated(records: &[Record], formats: &[Format]) -> Vec<NotMigrated> {
    let mut out = Vec::new();
    for r in records {
        for &format in formats {
            let reason = match r.signatures.iter().find(|s| s.format == format) {
                None if !r.signed_digest_served => "the registry no longer serves the signed digest".to_string(),
                None => "the signing script said nothing about it".to_string(),
                Some(s) if s.status == Status::Failed => s.detail.clone(),
                Some(_) => continue,
            };
            out.push(NotMigrated {
                tag: format!("{}:{}", r.repository, r.tag),
                digest: r.dct_digest.clone(),
                format,
                reason: if reason.trim().is_empty() { "failed, and the tools said nothing".into() } else { reason },
            });
        }
    }
    out
}

fn migrate_tag(sh: &Shell, signers: &Signers<'_>, t: &SignedTag, formats: &[Format]) -> Result<Record> {
    let tag_ref = format!("{}:{}", t.repository, t.tag);
    let digest_ref = DigestRef::new(&t.repository, &t.digest)?;
    let out = signers.script(tools::REGISTRY_STATE, &[&tag_ref, &digest_ref.to_string()], false)?;
    let (now, served) = tools::parse_registry_state(&out.stdout).with_context(|| {
        let why = signers.not_running(sh).unwrap_or_else(|| out.reason());
        format!("asking the registry about {tag_ref}: {why}")
    })?;
    let mut notes = Vec::new();
    match &now {
        None => notes.push("the tag is gone from the registry".to_string()),
        Some(d) if *d != t.digest => {
            notes.push(format!("tag moved: the registry's {} is {}; the DCT-signed digest is signed", t.tag, short(d)))
        }
        _ => {}
    }
    let signatures = if served {
        let results =
            signing::ensure(signers, sh, &signing::Registry::plain_http(), &signers.keys(), &digest_ref, formats)
                .map_err(|e| match signers.not_running(sh) {
                    // The container stopped under the script: that is the reason, not its silence.
                    Some(stopped) => e.context(stopped),
                    None => e,
                })?;
        for r in &results {
            let f = r.format.name();
            match r.status {
                Status::Signed => ui::status("Signed", format!("{digest_ref} ({f}, verified)")),
                Status::Already => ui::info("Kept", format!("{digest_ref}: {f} already signed by this sandbox's key")),
                Status::Failed => ui::warn(format!("{f} failed on {digest_ref}: {}", r.detail)),
                Status::Foreign => notes.push(format!("a {f} signature not made by this sandbox's key is there")),
                Status::Present | Status::Absent => {}
            }
        }
        results
    } else {
        notes.push("the registry no longer serves the signed digest: not signed".to_string());
        Vec::new()
    };
    let carries = signatures.iter().filter(|r| r.status.carried()).map(|r| r.format).collect();
    Ok(Record {
        repository: t.repository.clone(),
        tag: t.tag.clone(),
        dct_digest: t.digest.clone(),
        dct_signers: t.signers.clone(),
        registry_digest: now,
        signed_digest_served: served,
        signatures,
        carries,
        note: notes.join("; "),
    })
}

/// `sha256:` and the first 12 hex digits.
pub fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

/// The table for a terminal: one row per signed tag, one column per format.
pub fn table(report: &Report) -> String {
    let mut head = vec!["REPOSITORY".to_string(), "TAG".into(), "DCT DIGEST".into(), "REGISTRY NOW".into()];
    head.extend(Format::ALL.iter().map(|f| f.name().to_uppercase()));
    head.push("NOTE".into());
    let mut rows = vec![head];
    for r in &report.records {
        let now = match &r.registry_digest {
            None => "(no tag)".to_string(),
            Some(d) if *d == r.dct_digest => "same".to_string(),
            Some(d) => short(d),
        };
        let mut row = vec![r.repository.clone(), r.tag.clone(), short(&r.dct_digest), now];
        row.extend(Format::ALL.iter().map(|f| r.status(*f).map_or("-", Status::short).to_string()));
        row.push(r.note.clone());
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}

/// What a consumer runs to verify: inside the sandbox network through the signers container
/// (what `migrate` itself ran), and with host tools and the exported key, certificate and policy.
pub fn consumer_commands(report: &Report, in_container: &str, registry: &str) -> String {
    let example = report
        .records
        .iter()
        .find(|r| r.carries.contains(&Format::CosignLegacy) || r.carries.contains(&Format::CosignBundle))
        .or(report.records.first())
        .map(|r| format!("{}@{}", r.repository, r.dct_digest))
        .unwrap_or_else(|| format!("{registry}/<repository>@sha256:<digest>"));
    let cosign = |key: &str| {
        format!("cosign verify --key {key} --insecure-ignore-tlog=true --allow-insecure-registry --allow-http-registry {example}")
    };
    format!(
        "# Verify as a consumer, inside the sandbox network:\n\
         {in_container} {}\n\
         {in_container} notation verify --insecure-registry {example}\n\
         # With host tools (after `cargo xtask sandbox hosts add`, registry on port 5000), from the exported\n\
         # public key, certificate and trust policy:\n\
         {}\n\
         notation cert add --type ca --store trust-sandbox {cert}\n\
         notation policy import {policy}\n\
         notation verify --insecure-registry {example}\n",
        cosign(&format!("{}/cosign.pub", signers::MOUNT)),
        cosign(&report.cosign_public_key),
        cert = report.notation_certificate,
        policy = report.notation_trust_policy,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(format: Format, status: Status) -> FormatResult {
        FormatResult { format, status, signatures: vec![], detail: String::new() }
    }

    fn record(bundle: Status, now: Option<&str>) -> Record {
        let signatures = vec![
            result(Format::CosignBundle, bundle),
            result(Format::CosignLegacy, Status::Signed),
            result(Format::Notation, Status::Already),
        ];
        Record {
            repository: "sandboxregistry:5000/app/web".into(),
            tag: "v1".into(),
            dct_digest: format!("sha256:{}", "a".repeat(64)),
            dct_signers: vec![],
            registry_digest: now.map(String::from),
            signed_digest_served: true,
            carries: signatures.iter().filter(|r| r.status.carried()).map(|r| r.format).collect(),
            signatures,
            note: String::new(),
        }
    }

    fn report(records: Vec<Record>) -> Report {
        Report {
            sandbox: "s".into(),
            formats: Format::ALL.to_vec(),
            interrupted: None,
            not_migrated: not_migrated(&records, &Format::ALL),
            records,
            without_signed_tags: vec![],
            signed: 0,
            already_signed: 0,
            failed: 0,
            cosign_public_key: "/st/signers/cosign.pub".into(),
            notation_certificate: "/st/signers/notation.crt".into(),
            notation_trust_policy: "/st/signers/config/notation/trustpolicy.json".into(),
            kit: None,
        }
    }

    #[test]
    fn the_table_says_same_moved_or_gone_and_each_format() {
        let same = format!("sha256:{}", "a".repeat(64));
        let moved = format!("sha256:{}", "b".repeat(64));
        let t = table(&report(vec![
            record(Status::Signed, Some(&same)),
            record(Status::Absent, Some(&moved)),
            Record { signatures: vec![], carries: vec![], ..record(Status::Failed, None) },
        ]));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("REPOSITORY") && lines[0].contains("REGISTRY NOW"), "{t}");
        assert!(lines[0].contains("COSIGN-BUNDLE  COSIGN-LEGACY  NOTATION"), "{t}");
        assert!(lines[1].contains("same") && lines[1].contains("signed         signed         already"), "{t}");
        assert!(lines[2].contains("sha256:bbbbbbbbbbbb") && lines[2].contains("-              signed"), "{t}");
        assert!(lines[3].contains("(no tag)"), "{t}");
    }

    #[test]
    fn a_record_carries_what_verified_and_pins_its_digest() {
        let r = record(Status::Foreign, None);
        assert_eq!(r.carries, [Format::CosignLegacy, Format::Notation]);
        assert_eq!(r.pinned(), format!("sandboxregistry:5000/app/web:v1@sha256:{}", "a".repeat(64)));
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["carries"], serde_json::json!(["cosign-legacy", "notation"]));
        assert_eq!(j["signatures"][0]["status"], "foreign");
    }

    #[test]
    fn consumer_commands_name_the_exported_files_and_a_digest() {
        let c = consumer_commands(&report(vec![record(Status::Signed, None)]), "docker exec s-signers", "r:5000");
        assert!(c.contains("docker exec s-signers cosign verify --key /signers/cosign.pub"), "{c}");
        assert!(c.contains("cosign verify --key /st/signers/cosign.pub"), "{c}");
        assert!(c.contains("notation policy import /st/signers/config/notation/trustpolicy.json"), "{c}");
        assert!(c.contains(&format!("sandboxregistry:5000/app/web@sha256:{}", "a".repeat(64))), "{c}");
    }

    #[test]
    fn what_was_asked_for_and_not_signed_is_named_and_never_without_a_reason() {
        let gone =
            Record { signatures: vec![], carries: vec![], signed_digest_served: false, ..record(Status::Signed, None) };
        let mut failed = record(Status::Already, None);
        failed.signatures[2] = FormatResult {
            format: Format::Notation,
            status: Status::Failed,
            signatures: vec![],
            detail: "failed sign: boom".into(),
        };
        failed.signatures[1].detail = String::new();
        failed.signatures[1].status = Status::Failed;
        let n = not_migrated(&[record(Status::Signed, None), gone, failed], &[Format::CosignLegacy, Format::Notation]);
        let got: Vec<(Format, &str)> = n.iter().map(|m| (m.format, m.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                (Format::CosignLegacy, "the registry no longer serves the signed digest"),
                (Format::Notation, "the registry no longer serves the signed digest"),
                (Format::CosignLegacy, "failed, and the tools said nothing"),
                (Format::Notation, "failed sign: boom"),
            ]
        );
        assert_eq!(n[0].tag, "sandboxregistry:5000/app/web:v1");
        // A format not asked for is never missing, even when it failed.
        assert!(not_migrated(&[record(Status::Failed, None)], &[Format::Notation]).is_empty());
        let j = serde_json::to_value(&n[3]).unwrap();
        assert_eq!(j["format"], "notation");
    }
}
