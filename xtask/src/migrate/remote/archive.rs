//! `migrate --from … --archive DIR` and `migrate --verify-archive DIR`: the record of what DCT
//! signed, kept after the server is gone.
//!
//! The directory is a notary client's trust directory (`tuf/<gun>/metadata/<role>.json`, so
//! `notary -d DIR list <gun>` reads it as its cache) plus `MANIFEST.json` (each file's role,
//! version, expiry, SHA-256 and length, and each repository's root key IDs) and `SHA256SUMS`
//! (for `sha256sum -c`). `--verify-archive` checks every file against the manifest, then the
//! metadata itself as a first-time client would ([`crate::tuf::verify::verify`]), offline; expiry is
//! judged at the time the archive was made unless `--at` says otherwise.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::tuf::verify::{self, Source, Verified};

pub const FORMAT: &str = "trust-sandbox/dct-archive/v1";
pub const MANIFEST: &str = "MANIFEST.json";
pub const SUMS: &str = "SHA256SUMS";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: String,
    pub notary: String,
    pub registry: String,
    pub gun_prefix: String,
    pub repositories: Vec<ArchivedRepo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedRepo {
    pub repository: String,
    pub gun: String,
    pub root_key_ids: Vec<String>,
    pub files: Vec<ArchivedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedFile {
    pub role: String,
    /// Relative to the archive directory.
    pub path: String,
    pub version: u64,
    pub expires: String,
    pub sha256: String,
    pub length: u64,
}

/// Where notary's client keeps a role's file in its trust directory.
pub fn role_path(gun: &str, role: &str) -> String {
    format!("tuf/{gun}/metadata/{role}.json")
}

/// Writes `repos` into `dir` (created, or empty, or an earlier archive: files are replaced).
pub fn write(
    dir: &Path,
    remote: &super::Remote,
    repos: &[(String, Verified)],
    created: OffsetDateTime,
) -> Result<Manifest> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() && !dir.join(MANIFEST).exists() {
        bail!("{} is not empty and holds no archive: pick an empty or new directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Vec::new();
    let mut sums = String::new();
    for (repo, v) in repos {
        let gun = remote.gun(repo);
        let mut files = Vec::new();
        for (role, bytes) in &v.files {
            let rel = role_path(&gun, role);
            let path = dir.join(&rel);
            std::fs::create_dir_all(path.parent().context("a role file has a directory")?)?;
            crate::util::write_mode(&path, bytes, 0o644).with_context(|| format!("writing {}", path.display()))?;
            let state = v.roles.iter().find(|r| r.role == *role).context("a file without its role")?;
            let sha256 = crate::util::hex(&Sha256::digest(bytes));
            sums.push_str(&format!("{sha256}  {rel}\n"));
            files.push(ArchivedFile {
                role: role.clone(),
                path: rel,
                version: state.version,
                expires: state.expires.clone(),
                sha256,
                length: bytes.len() as u64,
            });
        }
        out.push(ArchivedRepo { repository: repo.clone(), gun, root_key_ids: v.root_key_ids.clone(), files });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: super::rfc3339(created),
        notary: remote.notary.base.clone(),
        registry: remote.registry.ep.base.clone(),
        gun_prefix: remote.gun_prefix.clone(),
        repositories: out,
    };
    crate::util::write_mode(&dir.join(MANIFEST), (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(), 0o644)?;
    crate::util::write_mode(&dir.join(SUMS), sums.as_bytes(), 0o644)?;
    Ok(manifest)
}

/// The archive's files as a [`Source`], each checked against the manifest before it is used.
struct Archived<'a> {
    dir: &'a Path,
    repo: &'a ArchivedRepo,
}

impl Source for Archived<'_> {
    fn fetch(&mut self, role: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(f) = self.repo.files.iter().find(|f| f.role == role) else { return Ok(None) };
        let path = self.dir.join(&f.path);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if bytes.len() as u64 > limit.max(f.length) {
            bail!("{} is longer than its manifest entry", f.path);
        }
        Ok(Some(bytes))
    }
}

/// What `--verify-archive` found for one repository.
#[derive(Debug, Clone, Serialize)]
pub struct RepoCheck {
    pub repository: String,
    pub gun: String,
    pub valid: bool,
    pub problem: Option<String>,
    pub signed_tags: Vec<String>,
    /// Roles expired at the time checked (expected for an old archive; reported, not failed).
    pub expired_roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub archive: PathBuf,
    pub created_at: String,
    /// The time expiry was judged at.
    pub at: String,
    pub files_checked: usize,
    pub repositories: Vec<RepoCheck>,
    pub valid: bool,
}

/// Checks every file's hash and length against the manifest, then each repository's metadata.
pub fn verify(dir: &Path, at: Option<OffsetDateTime>) -> Result<Check> {
    let text = std::fs::read_to_string(dir.join(MANIFEST))
        .with_context(|| format!("{} has no {MANIFEST}: not an archive made by `migrate --archive`", dir.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).with_context(|| format!("{MANIFEST} is damaged"))?;
    if manifest.format != FORMAT {
        bail!("{MANIFEST} is format {:?}, this tool reads {FORMAT:?}", manifest.format);
    }
    let created = OffsetDateTime::parse(&manifest.created_at, &time::format_description::well_known::Rfc3339)
        .context("the manifest's created_at")?;
    let at = at.unwrap_or(created);
    let mut files_checked = 0;
    let mut repositories = Vec::new();
    for repo in &manifest.repositories {
        let mut problem = None;
        for f in &repo.files {
            if f.path.split('/').any(|c| c == "..") {
                bail!("{MANIFEST} names {} outside the archive", f.path);
            }
            let bytes = std::fs::read(dir.join(&f.path)).with_context(|| format!("reading {}", f.path));
            let found = match bytes {
                Ok(b) => b,
                Err(e) => {
                    problem.get_or_insert(format!("{e:#}"));
                    continue;
                }
            };
            files_checked += 1;
            let sha = crate::util::hex(&Sha256::digest(&found));
            if sha != f.sha256 || found.len() as u64 != f.length {
                problem.get_or_insert(format!(
                    "{} does not match the manifest (sha256 {sha}, {} bytes; recorded {}, {} bytes)",
                    f.path,
                    found.len(),
                    f.sha256,
                    f.length
                ));
            }
        }
        let result = match problem {
            Some(p) => Err(anyhow::anyhow!(p)),
            None => verify::verify(&mut Archived { dir, repo }, at).and_then(|v| {
                if v.root_key_ids != repo.root_key_ids {
                    bail!("the root's key IDs {:?} are not those the manifest recorded", v.root_key_ids);
                }
                Ok(v)
            }),
        };
        repositories.push(match result {
            Ok(v) => RepoCheck {
                repository: repo.repository.clone(),
                gun: repo.gun.clone(),
                valid: true,
                problem: None,
                signed_tags: v.targets.iter().map(|t| format!("{} {} ({})", t.name, t.digest, t.role)).collect(),
                expired_roles: v.expired().iter().map(|r| format!("{} expired at {}", r.role, r.expires)).collect(),
            },
            Err(e) => RepoCheck {
                repository: repo.repository.clone(),
                gun: repo.gun.clone(),
                valid: false,
                problem: Some(format!("{e:#}")),
                signed_tags: vec![],
                expired_roles: vec![],
            },
        });
    }
    let valid = repositories.iter().all(|r| r.valid);
    Ok(Check {
        archive: dir.to_path_buf(),
        created_at: manifest.created_at,
        at: super::rfc3339(at),
        files_checked,
        repositories,
        valid,
    })
}

pub fn check_table(c: &Check) -> String {
    let mut s = String::new();
    for r in &c.repositories {
        match &r.problem {
            None => {
                s.push_str(&format!("{}  valid: {} signed tag(s)\n", r.gun, r.signed_tags.len()));
                for t in &r.signed_tags {
                    s.push_str(&format!("    {t}\n"));
                }
                for e in &r.expired_roles {
                    s.push_str(&format!("    note: {e}\n"));
                }
            }
            Some(p) => s.push_str(&format!("{}  INVALID: {p}\n", r.gun)),
        }
    }
    s
}
