//! Which tags are DCT-signed in this sandbox: every repository the Notary server holds trust data
//! for (its database, so a repository signed by hand in `shell` is found too), then each one's
//! signed tags as a DCT client sees them (`docker trust inspect` in the client, which validates the
//! TUF metadata and resolves delegations the way a trusted pull does).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use xshell::Shell;

use crate::sandbox::{db, Sandbox};

/// One tag as DCT signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTag {
    /// `sandboxregistry:5000/<repo>`, the GUN.
    pub repository: String,
    pub tag: String,
    /// `sha256:<hex>` of the manifest DCT signed.
    pub digest: String,
    pub signers: Vec<String>,
}

/// A repository with trust data that yields no signed tag, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    pub repository: String,
    pub reason: String,
}

pub fn guns_sql() -> String {
    // notary-server keeps every version of every role; a deleted repository has no rows left.
    format!("SELECT DISTINCT gun FROM {}.tuf_files WHERE deleted_at IS NULL ORDER BY gun;\n", db::SERVER_DB)
}

/// Every GUN the Notary server holds trust data for.
pub fn guns(sh: &Shell, sb: &Sandbox) -> Result<Vec<String>> {
    let out = sb.sql(sh, &guns_sql()).context("listing the repositories in the Notary database")?;
    if !out.ok() {
        bail!("listing the repositories in the Notary database: {}", out.combined().trim());
    }
    Ok(out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    name: String,
    signed_tags: Vec<InspectedTag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedTag {
    signed_tag: String,
    digest: String,
    signers: Vec<String>,
}

/// Parses `docker trust inspect` JSON (digests in hex, without `sha256:`).
pub fn parse_inspect(json: &str) -> Result<Vec<SignedTag>> {
    let repos: Vec<Inspected> = serde_json::from_str(json).context("parsing `docker trust inspect` output")?;
    let mut out = Vec::new();
    for r in repos {
        for t in r.signed_tags {
            if t.digest.len() != 64 || !t.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "`docker trust inspect` gave {}:{} a digest that is not sha256 hex: {}",
                    r.name,
                    t.signed_tag,
                    t.digest
                );
            }
            out.push(SignedTag {
                repository: r.name.clone(),
                tag: t.signed_tag,
                digest: format!("sha256:{}", t.digest),
                signers: t.signers,
            });
        }
    }
    Ok(out)
}

/// The signed tags of each GUN, as the client's DCT sees them.
pub fn signed_tags(sh: &Shell, sb: &Sandbox, guns: &[String]) -> Result<(Vec<SignedTag>, Vec<Unsigned>)> {
    let mut tags = Vec::new();
    let mut unsigned = Vec::new();
    let env = sb.secrets()?.client_env();
    // The registry's name inside the sandbox network: the first part of every GUN it serves.
    let registry = sb.spec.registry_address()?;
    for gun in guns {
        if !gun.starts_with(&format!("{registry}/")) {
            unsigned.push(Unsigned { repository: gun.clone(), reason: format!("not a repository of {registry}") });
            continue;
        }
        let out = sb.exec(sh, &sb.spec.client()?.name, &["docker", "trust", "inspect", gun], &env, None)?;
        let found = if out.ok() { parse_inspect(&out.stdout)? } else { Vec::new() };
        if found.is_empty() {
            let why = out.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no signed tags").trim();
            unsigned.push(Unsigned { repository: gun.clone(), reason: why.to_string() });
        }
        tags.extend(found);
    }
    Ok((tags, unsigned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_output_becomes_tags_with_prefixed_digests() {
        let hex = "c9".repeat(32);
        let json = format!(
            r#"[{{"Name":"sandboxregistry:5000/app/web","SignedTags":[{{"SignedTag":"v1","Digest":"{hex}","Signers":["Repo Admin"]}}],"Signers":[],"AdministrativeKeys":[]}}]"#
        );
        let tags = parse_inspect(&json).unwrap();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].repository, "sandboxregistry:5000/app/web");
        assert_eq!(tags[0].digest, format!("sha256:{hex}"));
        assert_eq!(tags[0].signers, ["Repo Admin"]);
        assert!(parse_inspect("[]").unwrap().is_empty());
        assert!(parse_inspect(&json.replace(&hex, "zz")).is_err());
    }

    #[test]
    fn guns_come_from_live_rows_of_the_server_database() {
        let sql = guns_sql();
        assert!(sql.contains("FROM notaryserver.tuf_files") && sql.contains("deleted_at IS NULL"), "{sql}");
    }
}
