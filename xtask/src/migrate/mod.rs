//! The move away from DCT, rehearsed: re-sign every DCT-signed tag of the sandbox by the digest
//! DCT signed, with cosign and Notation, and verify each signature (`migrate`); then show side by
//! side what each of the three refuses (`compare`).

pub mod compare;
pub mod find;
pub mod signers;
pub mod tools;

use anyhow::{Context, Result};
use serde::Serialize;
use xshell::Shell;

use crate::sandbox::Sandbox;
use crate::ui;
use find::SignedTag;
use signers::Signers;
use tools::Tool;

/// What happened to one tag with one tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum Outcome {
    /// Signed now and verified.
    Signed,
    /// A signature by this sandbox's key verified already: nothing signed.
    AlreadySigned,
    /// Not signed: the registry no longer serves the digest, or the tool was not asked for.
    Skipped(String),
    Failed(String),
}

impl Outcome {
    fn short(&self) -> &str {
        match self {
            Outcome::Signed => "signed",
            Outcome::AlreadySigned => "already",
            Outcome::Skipped(_) => "-",
            Outcome::Failed(_) => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub repository: String,
    pub tag: String,
    pub dct_digest: String,
    pub dct_signers: Vec<String>,
    /// What the registry's tag points to now (None: the tag is gone).
    pub registry_digest: Option<String>,
    pub signed_digest_served: bool,
    pub cosign: Outcome,
    pub notation: Outcome,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub sandbox: String,
    /// The signal that ended the run early; `records` then holds the tags done until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub records: Vec<Record>,
    /// Every DCT-signed tag that did not get a signature it was asked for, and why (failed, its
    /// digest no longer served, or not reached before an interruption): the exit status is
    /// non-zero when there is one.
    pub not_migrated: Vec<NotMigrated>,
    /// Repositories with trust data but no signed tag.
    pub without_signed_tags: Vec<Unsigned>,
    pub signed: usize,
    pub already_signed: usize,
    pub failed: usize,
    pub cosign_public_key: String,
    pub notation_certificate: String,
    pub notation_trust_policy: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NotMigrated {
    /// `repository:tag`.
    pub tag: String,
    /// The digest DCT signed.
    pub digest: String,
    pub tool: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unsigned {
    pub repository: String,
    pub reason: String,
}

/// Finds, signs and verifies; never signs a digest twice. A signal (see `crate::signals`) stops
/// it after killing the running command's processes: the report then holds what was done.
pub fn run(sh: &Shell, sb: &Sandbox, signers: &Signers<'_>, tools: &[Tool]) -> Result<Report> {
    let guns = find::guns(sh, sb)?;
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
        match migrate_tag(sh, signers, t, tools) {
            Ok(r) => records.push(r),
            Err(e) if crate::signals::caught().is_some() => {
                ui::warn(format!("{e:#}"));
                interrupted = crate::signals::caught().map(|s| s.name().to_string());
                break;
            }
            Err(e) => return Err(e.context(format!("migrating {}:{}", t.repository, t.tag))),
        }
    }
    let count =
        |f: &dyn Fn(&Outcome) -> bool| records.iter().flat_map(|r| [&r.cosign, &r.notation]).filter(|o| f(o)).count();
    let mut not_migrated = not_migrated(&records);
    for t in tags.iter().skip(records.len()) {
        for tool in tools {
            not_migrated.push(NotMigrated {
                tag: format!("{}:{}", t.repository, t.tag),
                digest: t.digest.clone(),
                tool: tool.name().into(),
                reason: format!(
                    "not reached: the run was interrupted by {}",
                    interrupted.as_deref().unwrap_or("a signal")
                ),
            });
        }
    }
    Ok(Report {
        sandbox: sb.name.clone(),
        interrupted,
        signed: count(&|o| *o == Outcome::Signed),
        already_signed: count(&|o| *o == Outcome::AlreadySigned),
        failed: count(&|o| matches!(o, Outcome::Failed(_))),
        not_migrated,
        records,
        without_signed_tags: unsigned
            .into_iter()
            .map(|u| Unsigned { repository: u.repository, reason: u.reason })
            .collect(),
        cosign_public_key: signers.cosign_pub().display().to_string(),
        notation_certificate: signers.notation_cert().display().to_string(),
        notation_trust_policy: signers.trust_policy_file().display().to_string(),
    })
}

/// The tool signatures that were asked for and are not there: failed, or skipped because the
/// registry no longer serves the signed digest. (`--to` leaving a tool out is not one.)
fn not_migrated(records: &[Record]) -> Vec<NotMigrated> {
    let mut out = Vec::new();
    for r in records {
        for (tool, outcome) in [(Tool::Cosign, &r.cosign), (Tool::Notation, &r.notation)] {
            let reason = match outcome {
                Outcome::Failed(why) => why.clone(),
                Outcome::Skipped(why) if why != NOT_ASKED => why.clone(),
                _ => continue,
            };
            out.push(NotMigrated {
                tag: format!("{}:{}", r.repository, r.tag),
                digest: r.dct_digest.clone(),
                tool: tool.name().into(),
                reason,
            });
        }
    }
    out
}

/// Why a tool was skipped on purpose.
const NOT_ASKED: &str = "not asked for (--to)";

fn migrate_tag(sh: &Shell, signers: &Signers<'_>, t: &SignedTag, tools: &[Tool]) -> Result<Record> {
    let tag_ref = format!("{}:{}", t.repository, t.tag);
    let digest_ref = format!("{}@{}", t.repository, t.digest);
    let out = signers.script(tools::REGISTRY_STATE, &[&tag_ref, &digest_ref], false)?;
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
    if !served {
        notes.push("the registry no longer serves the signed digest: not signed".to_string());
    }
    let outcome = |tool: Tool| -> Result<Outcome> {
        if !tools.contains(&tool) {
            return Ok(Outcome::Skipped(NOT_ASKED.into()));
        }
        if !served {
            return Ok(Outcome::Skipped("the registry no longer serves the signed digest".into()));
        }
        let out = signers.script(&tools::sign_once_script(tool, &digest_ref), &[], tool == Tool::Cosign)?;
        let last = out.stdout.lines().rev().find(|l| l.starts_with("@@ ")).unwrap_or("").trim_start_matches("@@ ");
        let result = match last {
            "already" => Outcome::AlreadySigned,
            "signed" => Outcome::Signed,
            _ => Outcome::Failed(failure_reason(&out, || signers.not_running(sh))),
        };
        match &result {
            Outcome::Signed => ui::status("Signed", format!("{digest_ref} with {} (verified)", tool.name())),
            Outcome::AlreadySigned => {
                ui::info("Kept", format!("{digest_ref}: already signed with {} by this sandbox's key", tool.name()))
            }
            Outcome::Failed(m) => ui::warn(format!("{} failed on {digest_ref}: {m}", tool.name())),
            Outcome::Skipped(_) => {}
        }
        Ok(result)
    };
    let cosign = outcome(Tool::Cosign)?;
    let notation = outcome(Tool::Notation)?;
    Ok(Record {
        repository: t.repository.clone(),
        tag: t.tag.clone(),
        dct_digest: t.digest.clone(),
        dct_signers: t.signers.clone(),
        registry_digest: now,
        signed_digest_served: served,
        cosign,
        notation,
        note: notes.join("; "),
    })
}

/// Why a signing script failed, never empty: its output less the `@@` markers, and when the
/// container stopped under it (no output, or exit 137), that.
fn failure_reason(out: &crate::engine::Output, not_running: impl FnOnce() -> Option<String>) -> String {
    let all = out.combined();
    let text: Vec<&str> = all.lines().map(str::trim).filter(|l| !l.starts_with("@@") && !l.is_empty()).collect();
    let text = text.join(" | ");
    let stopped = if text.is_empty() || out.code == 137 { not_running() } else { None };
    // Nothing said: the exit status says what it can.
    let bare = || crate::engine::Output { code: out.code, ..Default::default() }.reason();
    match (text.is_empty(), stopped) {
        (true, Some(stopped)) => format!("{stopped} ({})", bare()),
        (false, Some(stopped)) => format!("{text} ({stopped})"),
        (false, None) => text,
        (true, None) => bare(),
    }
}

/// `sha256:` and the first 12 hex digits.
pub fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

/// The table for a terminal: one row per signed tag.
pub fn table(report: &Report) -> String {
    let mut rows = vec![[
        "REPOSITORY".to_string(),
        "TAG".into(),
        "DCT DIGEST".into(),
        "REGISTRY NOW".into(),
        "COSIGN".into(),
        "NOTATION".into(),
        "NOTE".into(),
    ]];
    for r in &report.records {
        let now = match &r.registry_digest {
            None => "(no tag)".to_string(),
            Some(d) if *d == r.dct_digest => "same".to_string(),
            Some(d) => short(d),
        };
        rows.push([
            r.repository.clone(),
            r.tag.clone(),
            short(&r.dct_digest),
            now,
            r.cosign.short().to_string(),
            r.notation.short().to_string(),
            r.note.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
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
        .find(|r| matches!(r.cosign, Outcome::Signed | Outcome::AlreadySigned))
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

    fn record(cosign: Outcome, now: Option<&str>) -> Record {
        Record {
            repository: "sandboxregistry:5000/app/web".into(),
            tag: "v1".into(),
            dct_digest: format!("sha256:{}", "a".repeat(64)),
            dct_signers: vec![],
            registry_digest: now.map(String::from),
            signed_digest_served: true,
            cosign,
            notation: Outcome::AlreadySigned,
            note: String::new(),
        }
    }

    fn report(records: Vec<Record>) -> Report {
        Report {
            sandbox: "s".into(),
            interrupted: None,
            not_migrated: not_migrated(&records),
            records,
            without_signed_tags: vec![],
            signed: 0,
            already_signed: 0,
            failed: 0,
            cosign_public_key: "/st/signers/cosign.pub".into(),
            notation_certificate: "/st/signers/notation.crt".into(),
            notation_trust_policy: "/st/signers/config/notation/trustpolicy.json".into(),
        }
    }

    #[test]
    fn the_table_says_same_moved_or_gone() {
        let same = format!("sha256:{}", "a".repeat(64));
        let moved = format!("sha256:{}", "b".repeat(64));
        let t = table(&report(vec![
            record(Outcome::Signed, Some(&same)),
            record(Outcome::AlreadySigned, Some(&moved)),
            record(Outcome::Skipped("x".into()), None),
        ]));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("REPOSITORY") && lines[0].contains("REGISTRY NOW"));
        assert!(lines[1].contains("same") && lines[1].contains("signed"), "{t}");
        assert!(lines[2].contains("sha256:bbbbbbbbbbbb") && lines[2].contains("already"), "{t}");
        assert!(lines[3].contains("(no tag)"), "{t}");
    }

    #[test]
    fn consumer_commands_name_the_exported_files_and_a_digest() {
        let c = consumer_commands(&report(vec![record(Outcome::Signed, None)]), "docker exec s-signers", "r:5000");
        assert!(c.contains("docker exec s-signers cosign verify --key /signers/cosign.pub"), "{c}");
        assert!(c.contains("cosign verify --key /st/signers/cosign.pub"), "{c}");
        assert!(c.contains("notation policy import /st/signers/config/notation/trustpolicy.json"), "{c}");
        assert!(c.contains(&format!("sandboxregistry:5000/app/web@sha256:{}", "a".repeat(64))), "{c}");
    }

    #[test]
    fn what_was_asked_for_and_not_signed_is_named_and_never_without_a_reason() {
        let gone = Record {
            cosign: Outcome::Skipped("the registry no longer serves the signed digest".into()),
            notation: Outcome::Skipped(NOT_ASKED.into()),
            ..record(Outcome::Signed, None)
        };
        let failed = Record { notation: Outcome::Failed("boom".into()), ..record(Outcome::AlreadySigned, None) };
        let n = not_migrated(&[record(Outcome::Signed, None), gone, failed]);
        let got: Vec<(&str, &str)> = n.iter().map(|m| (m.tool.as_str(), m.reason.as_str())).collect();
        assert_eq!(got, [("cosign", "the registry no longer serves the signed digest"), ("notation", "boom")]);
        assert_eq!(n[0].tag, "sandboxregistry:5000/app/web:v1");

        // The signers container died under the command: no output, exit 137.
        let dead = crate::engine::Output { code: 137, stdout: "@@ sign-failed\n".into(), stderr: String::new() };
        let why = failure_reason(&dead, || Some("the signers container ts-signers is exited (not running)".into()));
        assert!(why.starts_with("the signers container ts-signers is exited") && why.contains("SIGKILL"), "{why}");
        let silent = crate::engine::Output { code: 1, stdout: String::new(), stderr: String::new() };
        assert_eq!(failure_reason(&silent, || None), "exit 1 and no output");
        let said = crate::engine::Output { code: 1, stdout: "x\n@@ sign-failed\n".into(), stderr: "denied\n".into() };
        assert_eq!(failure_reason(&said, || None), "x | denied");
    }

    #[test]
    fn outcomes_serialise_with_a_status() {
        let j = serde_json::to_value(Outcome::Skipped("why".into())).unwrap();
        assert_eq!(j, serde_json::json!({"status": "skipped", "detail": "why"}));
        assert_eq!(
            serde_json::to_value(Outcome::AlreadySigned).unwrap(),
            serde_json::json!({"status": "already-signed"})
        );
    }
}
