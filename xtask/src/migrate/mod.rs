//! The move away from DCT, rehearsed: re-sign every DCT-signed tag of the sandbox by the digest
//! DCT signed, with cosign and Notation, and verify each signature (`migrate`); then show side by
//! side what each of the three refuses (`compare`).

pub mod compare;
pub mod find;
pub mod html;
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
    pub records: Vec<Record>,
    /// Repositories with trust data but no signed tag.
    pub without_signed_tags: Vec<Unsigned>,
    pub signed: usize,
    pub already_signed: usize,
    pub failed: usize,
    pub cosign_public_key: String,
    pub notation_certificate: String,
    pub notation_trust_policy: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unsigned {
    pub repository: String,
    pub reason: String,
}

/// Finds, signs and verifies; never signs a digest twice.
pub fn run(sh: &Shell, sb: &Sandbox, signers: &Signers<'_>, tools: &[Tool]) -> Result<Report> {
    let guns = find::guns(sh, sb)?;
    ui::status(
        "Found",
        format!("{} repositor{} with DCT trust data", guns.len(), if guns.len() == 1 { "y" } else { "ies" }),
    );
    let (tags, unsigned) = find::signed_tags(sh, sb, &guns)?;
    let mut records = Vec::new();
    for t in &tags {
        records
            .push(migrate_tag(sh, signers, t, tools).with_context(|| format!("migrating {}:{}", t.repository, t.tag))?);
    }
    let count =
        |f: &dyn Fn(&Outcome) -> bool| records.iter().flat_map(|r| [&r.cosign, &r.notation]).filter(|o| f(o)).count();
    Ok(Report {
        sandbox: sb.name.clone(),
        signed: count(&|o| *o == Outcome::Signed),
        already_signed: count(&|o| *o == Outcome::AlreadySigned),
        failed: count(&|o| matches!(o, Outcome::Failed(_))),
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

fn migrate_tag(sh: &Shell, signers: &Signers<'_>, t: &SignedTag, tools: &[Tool]) -> Result<Record> {
    let tag_ref = format!("{}:{}", t.repository, t.tag);
    let digest_ref = format!("{}@{}", t.repository, t.digest);
    let out = signers.script(sh, tools::REGISTRY_STATE, &[&tag_ref, &digest_ref], false)?;
    let (now, served) = tools::parse_registry_state(&out.stdout)
        .with_context(|| format!("asking the registry about {tag_ref}: {}", out.combined().trim()))?;
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
            return Ok(Outcome::Skipped("not asked for (--to)".into()));
        }
        if !served {
            return Ok(Outcome::Skipped("signed digest not served".into()));
        }
        let out = signers.script(sh, &tools::sign_once_script(tool, &digest_ref), &[], tool == Tool::Cosign)?;
        let last = out.stdout.lines().rev().find(|l| l.starts_with("@@ ")).unwrap_or("").trim_start_matches("@@ ");
        let result = match last {
            "already" => Outcome::AlreadySigned,
            "signed" => Outcome::Signed,
            _ => {
                Outcome::Failed(out.combined().lines().filter(|l| !l.starts_with("@@")).collect::<Vec<_>>().join(" | "))
            }
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
pub fn consumer_commands(report: &Report, in_container: &str) -> String {
    let example = report
        .records
        .iter()
        .find(|r| matches!(r.cosign, Outcome::Signed | Outcome::AlreadySigned))
        .or(report.records.first())
        .map(|r| format!("{}@{}", r.repository, r.dct_digest))
        .unwrap_or_else(|| format!("{}/<repository>@sha256:<digest>", find::REGISTRY));
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
        let c = consumer_commands(&report(vec![record(Outcome::Signed, None)]), "docker exec s-signers");
        assert!(c.contains("docker exec s-signers cosign verify --key /signers/cosign.pub"), "{c}");
        assert!(c.contains("cosign verify --key /st/signers/cosign.pub"), "{c}");
        assert!(c.contains("notation policy import /st/signers/config/notation/trustpolicy.json"), "{c}");
        assert!(c.contains(&format!("sandboxregistry:5000/app/web@sha256:{}", "a".repeat(64))), "{c}");
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
