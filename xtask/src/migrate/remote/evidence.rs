//! The evidence report of `migrate --from … --apply`: for each digest, where its DCT signature
//! came from and the new signatures' digests. Rewritten after every digest; an earlier report at
//! the same path is read back so that signatures kept by a rerun keep their recorded artifacts.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::enforce::PolicyPull;
use super::registry::Artifact;
use crate::step::mask::Masker;
use crate::util;

pub const FORMAT: &str = "trust-sandbox/migrate-evidence/v1";

/// What happened to one digest with one tool (and format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Signed,
    AlreadySigned,
    Failed(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolResult {
    /// `cosign-bundle`, `cosign-legacy` or `notation`.
    pub kind: String,
    pub outcome: Outcome,
    /// The signature artifacts this run created (their manifest digests); for a signature that
    /// was there already, the ones an earlier run recorded.
    pub artifacts: Vec<String>,
    /// False when no run recorded which artifact is this key's: `artifacts` then lists every one
    /// of this kind on the digest (one of them verified with the key).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub attributed: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Where a DCT signature came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DctSource {
    pub gun: String,
    pub tag: String,
    pub role: String,
    pub signers: Vec<String>,
    /// The version of the role's metadata that signs it, and that file's SHA-256 and length.
    pub metadata_version: u64,
    pub metadata_sha256: String,
    pub metadata_length: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub repository: String,
    pub digest: String,
    pub reference: String,
    pub dct: Vec<DctSource>,
    pub results: Vec<ToolResult>,
    /// Every cosign/Notation signature artifact on the digest after this run.
    pub artifacts_after: Vec<Artifact>,
    /// The digest pulled through a pull-time policy after signing (with a cosign key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_pull: Option<PolicyPull>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    pub format: String,
    pub notary: String,
    pub registry: String,
    pub gun_prefix: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub keys: Vec<String>,
    pub records: Vec<Record>,
    /// Tags not signed and why (the digest is no longer served).
    pub skipped: Vec<String>,
    pub signed: usize,
    pub already_signed: usize,
    pub failed: usize,
}

pub(super) fn read(path: &Path) -> Option<Evidence> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

pub(super) fn earlier_artifacts(earlier: &Option<Evidence>, reference: &str, kind: &str) -> Vec<String> {
    earlier
        .iter()
        .flat_map(|e| e.records.iter())
        .filter(|r| r.reference == reference)
        .flat_map(|r| r.results.iter())
        .filter(|r| r.kind == kind && r.attributed)
        .flat_map(|r| r.artifacts.iter().cloned())
        .collect()
}

pub(super) fn write(path: &Path, e: &Evidence, masker: &Masker) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = masker.mask(&serde_json::to_string_pretty(e)?) + "\n";
    util::write_mode(path, text.as_bytes(), 0o644).with_context(|| format!("writing the evidence {}", path.display()))
}

/// The evidence for a terminal: one line per digest and tool.
pub fn table(e: &Evidence) -> String {
    let mut rows =
        vec![vec!["REFERENCE".to_string(), "DCT (TAG ROLE VERSION)".into(), "RESULT".into(), "POLICY PULL".into()]];
    for r in &e.records {
        let dct: Vec<String> = r.dct.iter().map(|d| format!("{} {} v{}", d.tag, d.role, d.metadata_version)).collect();
        let results: Vec<String> = r
            .results
            .iter()
            .map(|t| {
                let o = match &t.outcome {
                    Outcome::Signed => "signed",
                    Outcome::AlreadySigned => "already",
                    Outcome::Failed(_) => "FAILED",
                };
                format!("{} {o}", t.kind)
            })
            .collect();
        let pull = match &r.policy_pull {
            Some(p) if p.accepted => "accepted",
            Some(_) => "REFUSED",
            None => "-",
        };
        rows.push(vec![r.reference.clone(), dct.join(", "), results.join(", "), pull.into()]);
    }
    super::plan::columns(&rows)
}
