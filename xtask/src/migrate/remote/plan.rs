//! `migrate --from … --plan`: what DCT signed in each repository, checked, beside what the
//! registry serves now, and what `--apply` would sign with which key. Read-only.

use anyhow::Result;
use serde::Serialize;
use time::OffsetDateTime;

use super::Remote;
use crate::migrate::short;
use crate::tuf::verify::{RoleState, Verified};
use crate::tuf::{self, verify};

/// Why a tag's digest will or will not be signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Sign,
    /// The registry no longer serves the signed digest.
    NotServed,
    /// The repository's trust data has expired (signed only with `--allow-expired-trust-data`).
    Expired,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagPlan {
    pub tag: String,
    /// `sha256:<hex>` DCT signed.
    pub signed_digest: String,
    pub length: u64,
    /// The roles that sign this digest for this tag (`targets`, `targets/releases`, …).
    pub roles: Vec<String>,
    /// Who signed, as `docker trust inspect` names them (a delegation's name, or the repository's
    /// admin for `targets`).
    pub signers: Vec<String>,
    /// Whether a DCT client's pull resolves the tag to this digest (targets/releases first, then
    /// targets; other delegations are not consulted by `docker pull`).
    pub docker_pull: bool,
    /// What the tag points to in the registry now (None: the tag is gone).
    pub registry_digest: Option<String>,
    pub signed_digest_served: bool,
    pub action: Action,
    /// `<registry>/<repository>@<digest>`: what would be signed.
    pub reference: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepoStatus {
    /// Trust data read and every check passed.
    Valid,
    /// Valid signatures, but a role has expired: the data no longer validates for a DCT client.
    Expired,
    /// The Notary server has no trust data for it.
    NoTrustData,
    /// The trust data failed a check (a signature, a hash, a length) or could not be read.
    Invalid,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepoPlan {
    pub repository: String,
    pub gun: String,
    pub status: RepoStatus,
    /// Why it is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub root_key_ids: Vec<String>,
    /// The same root keys by the ID of their public key alone, as `notary key list` shows them.
    pub root_canonical_key_ids: Vec<String>,
    /// (key ID, certificate expiry, expired) of each root certificate.
    pub root_certificates: Vec<RootCert>,
    pub roles: Vec<RoleState>,
    pub tags: Vec<TagPlan>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RootCert {
    pub key_id: String,
    pub not_after: String,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub repositories: usize,
    pub signed_tags: usize,
    pub to_sign: usize,
    pub not_served: usize,
    pub expired_repositories: usize,
    pub without_trust_data: usize,
    pub invalid: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub notary: String,
    pub registry: String,
    pub gun_prefix: String,
    /// The time expiry was judged at.
    pub at: String,
    pub repositories: Vec<RepoPlan>,
    /// What `--apply` signs with (empty: no key given).
    pub signing_keys: Vec<String>,
    pub summary: Summary,
}

/// Reads and checks every repository; the verified metadata is kept for `--archive`.
pub fn build(
    remote: &Remote,
    repositories: &[String],
    at: OffsetDateTime,
    signing_keys: Vec<String>,
) -> Result<(Plan, Vec<(String, Verified)>)> {
    let mut repos = Vec::new();
    let mut kept = Vec::new();
    for repo in repositories {
        let gun = remote.gun(repo);
        let mut src = super::notary::Repository { notary: &remote.notary, gun: gun.clone() };
        let verified = verify::verify(&mut src, at);
        let plan = match verified {
            Ok(v) => {
                let p = repo_plan(remote, repo, &gun, &v)?;
                kept.push((repo.clone(), v));
                p
            }
            Err(e) if e.downcast_ref::<verify::NoTrustData>().is_some() => empty(
                repo,
                &gun,
                RepoStatus::NoTrustData,
                "no trust data: the Notary server has nothing for this repository",
            ),
            // A connection, TLS or credentials failure concerns every repository: stop.
            Err(e) if is_transport(&e) => return Err(e),
            Err(e) => empty(repo, &gun, RepoStatus::Invalid, &format!("{e:#}")),
        };
        repos.push(plan);
    }
    let tags = || repos.iter().flat_map(|r| r.tags.iter());
    let summary = Summary {
        repositories: repos.len(),
        signed_tags: tags().count(),
        to_sign: tags().filter(|t| t.action == Action::Sign).count(),
        not_served: tags().filter(|t| t.action == Action::NotServed).count(),
        expired_repositories: repos.iter().filter(|r| matches!(r.status, RepoStatus::Expired)).count(),
        without_trust_data: repos.iter().filter(|r| matches!(r.status, RepoStatus::NoTrustData)).count(),
        invalid: repos.iter().filter(|r| matches!(r.status, RepoStatus::Invalid)).count(),
    };
    let plan = Plan {
        notary: remote.notary.base.clone(),
        registry: remote.registry.ep.base.clone(),
        gun_prefix: remote.gun_prefix.clone(),
        at: super::rfc3339(at),
        repositories: repos,
        signing_keys,
        summary,
    };
    Ok((plan, kept))
}

/// Errors that are about reaching a server, not about one repository's data.
fn is_transport(e: &anyhow::Error) -> bool {
    let t = format!("{e:#}");
    t.contains("TLS to ")
        || t.contains("refused the credentials")
        || t.contains("asks for credentials")
        || t.contains("Connection refused")
}

fn empty(repo: &str, gun: &str, status: RepoStatus, problem: &str) -> RepoPlan {
    RepoPlan {
        repository: repo.into(),
        gun: gun.into(),
        status,
        problem: Some(problem.into()),
        root_key_ids: vec![],
        root_canonical_key_ids: vec![],
        root_certificates: vec![],
        roles: vec![],
        tags: vec![],
        notes: vec![],
    }
}

/// One repository's tags: each distinct (tag, digest) DCT signed, with the registry's view.
fn repo_plan(remote: &Remote, repo: &str, gun: &str, v: &Verified) -> Result<RepoPlan> {
    let expired: Vec<String> = v.expired().iter().map(|r| format!("{} expired at {}", r.role, r.expires)).collect();
    let certs_expired: Vec<String> = v
        .root_cert_expiry
        .iter()
        .filter(|c| c.2)
        .map(|c| format!("root certificate {} expired at {}", tuf::short_id(&c.0), c.1))
        .collect();
    let stale = !expired.is_empty() || !certs_expired.is_empty();
    let mut tags: Vec<TagPlan> = Vec::new();
    let mut names: Vec<&str> = v.targets.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let entries: Vec<&verify::Target> = v.targets.iter().filter(|t| t.name == name).collect();
        // What a trusted `docker pull` resolves: targets/releases first, then targets.
        let pulled = [tuf::RELEASES, tuf::TARGETS]
            .iter()
            .find_map(|r| entries.iter().find(|t| t.role == *r))
            .map(|t| t.digest.clone());
        let now = remote.registry.resolve(repo, name)?;
        let mut seen = Vec::new();
        for t in &entries {
            if seen.contains(&t.digest) {
                continue;
            }
            seen.push(t.digest.clone());
            let same: Vec<&&verify::Target> = entries.iter().filter(|e| e.digest == t.digest).collect();
            let roles: Vec<String> = same.iter().map(|e| e.role.clone()).collect();
            let mut signers: Vec<String> = Vec::new();
            for r in &roles {
                match v.signer_names.get(r).filter(|n| !n.is_empty()) {
                    Some(n) => signers.extend(n.iter().cloned()),
                    None if r == tuf::TARGETS => signers.push("repository key (targets)".into()),
                    None => signers.push(r.trim_start_matches("targets/").into()),
                }
            }
            signers.dedup();
            let served = match now.as_deref() {
                Some(d) if d == t.digest => true,
                _ => remote.registry.manifest(repo, &t.digest)?.is_some(),
            };
            let mut notes = Vec::new();
            match now.as_deref() {
                None => notes.push("the tag is gone from the registry".to_string()),
                Some(d) if d != t.digest => notes.push(format!("tag moved: the registry's {name} is {}", short(d))),
                _ => {}
            }
            let docker_pull = pulled.as_deref() == Some(t.digest.as_str());
            if !docker_pull {
                notes.push(format!(
                    "a docker pull of {name} resolves {} instead (from {})",
                    pulled.as_deref().map(short).unwrap_or_default(),
                    tuf::RELEASES
                ));
            }
            let action = if !served {
                notes.push("the registry no longer serves the signed digest: not signed".into());
                Action::NotServed
            } else if stale {
                Action::Expired
            } else {
                Action::Sign
            };
            tags.push(TagPlan {
                tag: name.to_string(),
                signed_digest: t.digest.clone(),
                length: t.length,
                roles,
                signers,
                docker_pull,
                registry_digest: now.clone(),
                signed_digest_served: served,
                action,
                reference: format!("{}/{repo}@{}", remote.registry_address(), t.digest),
                note: notes.join("; "),
            });
        }
    }
    let mut notes = v.notes.clone();
    notes.extend(expired.iter().map(|e| format!("{e}: the data no longer validates for a DCT client")));
    notes.extend(certs_expired.iter().map(|e| format!("{e}: the data no longer validates for a DCT client")));
    Ok(RepoPlan {
        repository: repo.into(),
        gun: gun.into(),
        status: if stale { RepoStatus::Expired } else { RepoStatus::Valid },
        problem: stale.then(|| [expired, certs_expired].concat().join("; ")),
        root_key_ids: v.root_key_ids.clone(),
        root_canonical_key_ids: v.root_canonical_key_ids.clone(),
        root_certificates: v
            .root_cert_expiry
            .iter()
            .map(|(id, na, exp)| RootCert { key_id: id.clone(), not_after: na.clone(), expired: *exp })
            .collect(),
        roles: v.roles.clone(),
        tags,
        notes,
    })
}

/// Rows as left-aligned columns, two spaces apart.
pub fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.first().map(Vec::len).unwrap_or(0);
    let widths: Vec<usize> = (0..n).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}

/// The plan for a terminal: one row per signed digest, then each repository's roles.
pub fn table(plan: &Plan) -> String {
    let mut rows = vec![["REPOSITORY", "TAG", "SIGNED DIGEST", "SIGNER", "REGISTRY NOW", "ACTION", "NOTE"]
        .map(String::from)
        .to_vec()];
    for r in &plan.repositories {
        if r.tags.is_empty() {
            let why = r.problem.clone().unwrap_or_else(|| "no signed tags".into());
            rows.push(vec![
                r.repository.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                status_word(&r.status).into(),
                why,
            ]);
        }
        for t in &r.tags {
            let now = match &t.registry_digest {
                None => "(no tag)".to_string(),
                Some(d) if *d == t.signed_digest => "same".to_string(),
                Some(d) => short(d),
            };
            let action = match t.action {
                Action::Sign => "sign",
                Action::NotServed => "skip",
                Action::Expired => "EXPIRED",
            };
            let signer = format!("{} ({})", t.roles.join(", "), t.signers.join(", "));
            rows.push(vec![
                r.repository.clone(),
                t.tag.clone(),
                short(&t.signed_digest),
                signer,
                now,
                action.into(),
                t.note.clone(),
            ]);
        }
    }
    let mut s = columns(&rows);
    let mut roles = vec![["REPOSITORY", "ROLE", "VERSION", "EXPIRES", "STATE"].map(String::from).to_vec()];
    for r in &plan.repositories {
        for role in &r.roles {
            let state = match (&role.skipped, role.expired) {
                (Some(_), _) => "skipped, as a DCT client skips it: its tags are not trusted",
                (None, true) => "EXPIRED: the data no longer validates",
                (None, false) => "valid",
            };
            roles.push(vec![
                r.repository.clone(),
                role.role.clone(),
                role.version.to_string(),
                role.expires.clone(),
                state.into(),
            ]);
        }
    }
    if roles.len() > 1 {
        s.push('\n');
        s.push_str(&columns(&roles));
    }
    s
}

fn status_word(s: &RepoStatus) -> &'static str {
    match s {
        RepoStatus::Valid => "valid",
        RepoStatus::Expired => "EXPIRED",
        RepoStatus::NoTrustData => "no trust data",
        RepoStatus::Invalid => "INVALID",
    }
}
