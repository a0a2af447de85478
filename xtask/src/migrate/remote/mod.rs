//! `migrate --from`: the same move off DCT, against a Notary server and a registry someone owns
//! (or a second sandbox standing in for them). Read over their HTTP APIs and verified here
//! (`plan`), kept (`archive`), then re-signed by digest with the user's own keys (`apply`).
//!
//! What it reads: the Notary server's TUF metadata of each repository (GET only), the registry's
//! catalog (when asked) and manifests (GET/HEAD). What it writes: nothing to the Notary server;
//! to the registry only with `--apply`, and only signatures (cosign's and Notation's artifacts
//! beside the signed manifests, through cosign and notation themselves). It never deletes or
//! moves a tag, never touches trust data, never pushes an image.

pub mod apply;
pub mod archive;
pub mod credentials;
pub mod enforce;
pub mod evidence;
pub mod http;
pub mod keys;
pub mod notary;
pub mod plan;
pub mod registry;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use time::OffsetDateTime;

use credentials::Server;
use http::Endpoint;
use registry::Registry;

/// The two servers, reached with their CAs and credentials.
pub struct Remote {
    pub notary: Endpoint,
    pub registry: Registry,
    /// What DCT named the repositories after: GUN = `<prefix>/<repository>`.
    pub gun_prefix: String,
}

/// Where the servers are and how to reach them (from the command line; no secret in here).
#[derive(Debug, Clone)]
pub struct Source {
    pub notary_url: String,
    pub registry_url: String,
    pub gun_prefix: Option<String>,
    pub notary_ca: Option<PathBuf>,
    pub registry_ca: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
}

impl Remote {
    pub fn connect(src: &Source) -> Result<Remote> {
        let config = credentials::docker_config_path(src.docker_config.as_deref());
        if let Some(named) = &src.docker_config {
            if !named.exists() {
                bail!("--docker-config {}: no such file", named.display());
            }
        }
        let registry_host = credentials::host_of(&src.registry_url);
        let notary_host = credentials::host_of(&src.notary_url);
        let registry_creds = credentials::lookup(Server::Registry, &registry_host, config.as_deref())?;
        // As the docker CLI does: the Notary server gets the registry's credentials unless it has
        // its own.
        let notary_creds =
            credentials::lookup(Server::Notary, &notary_host, config.as_deref())?.or_else(|| registry_creds.clone());
        Ok(Remote {
            notary: Endpoint::new(&src.notary_url, "the Notary server", src.notary_ca.as_deref(), notary_creds)?,
            registry: Registry {
                ep: Endpoint::new(&src.registry_url, "the registry", src.registry_ca.as_deref(), registry_creds)?,
            },
            gun_prefix: src.gun_prefix.clone().unwrap_or(registry_host).trim_end_matches('/').to_string(),
        })
    }

    pub fn gun(&self, repo: &str) -> String {
        format!("{}/{repo}", self.gun_prefix)
    }

    /// `host[:port]` of the registry, as image references name it.
    pub fn registry_address(&self) -> String {
        credentials::host_of(&self.registry.ep.base)
    }

    /// A docker `config.json` with the registry's credentials (cosign, Notation, crane and
    /// containers/image all read it), for a tool in a container: never argv.
    pub fn docker_config(&self) -> Result<Vec<u8>> {
        let mut auths = serde_json::Map::new();
        if let Some(c) = self.registry.ep.credentials() {
            auths.insert(
                self.registry_address(),
                serde_json::json!({ "auth": crate::util::basic_auth(&c.user, &c.secret).trim_start_matches("Basic ") }),
            );
        }
        Ok(serde_json::to_vec(&serde_json::json!({ "auths": auths }))?)
    }

    /// The secrets this run knows, for masking every output.
    pub fn secrets(&self) -> Vec<String> {
        [self.notary.credentials(), self.registry.ep.credentials()]
            .into_iter()
            .flatten()
            .map(|c| c.secret.clone())
            .collect()
    }
}

/// The repositories to read: those named, those in a file (one a line, `#` comments), or the
/// registry's catalog. A repository is a path in the registry (`team/app`), not a GUN.
pub fn repositories(remote: &Remote, named: &[String], file: Option<&Path>, catalog: bool) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let prefix = format!("{}/", remote.gun_prefix);
    let mut add = |r: &str| {
        // A GUN is accepted too: its prefix is dropped.
        let r = r.trim().trim_start_matches(&prefix).trim_matches('/').to_string();
        if !r.is_empty() && !out.contains(&r) {
            out.push(r);
        }
    };
    named.iter().for_each(|r| add(r));
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        text.lines().map(|l| l.split('#').next().unwrap_or("")).for_each(&mut add);
    }
    if catalog {
        remote.registry.catalog()?.iter().for_each(|r| add(r));
    }
    if out.is_empty() {
        bail!("no repositories to read: name them (`migrate --from … team/app`), list them in --repos-file, or pass --catalog where the registry allows listing (the Notary API has none)");
    }
    Ok(out)
}

pub use crate::tuf::rfc3339;

/// `--at`: an RFC 3339 time, or now plus `+<n>d` / `+<n>h`.
pub fn parse_at(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    if let Some(rest) = s.strip_prefix('+') {
        let (n, unit) = rest.split_at(rest.len().saturating_sub(1));
        let n: i64 = n.parse().with_context(|| format!("--at {s}: want +<n>d or +<n>h, or an RFC 3339 time"))?;
        return Ok(match unit {
            "d" => now + time::Duration::days(n),
            "h" => now + time::Duration::hours(n),
            _ => bail!("--at {s}: want +<n>d or +<n>h, or an RFC 3339 time"),
        });
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--at {s}: want +<n>d or +<n>h, or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_takes_offsets_and_times() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        assert_eq!(parse_at("+15d", now).unwrap(), time::macros::datetime!(2026-01-16 00:00 UTC));
        assert_eq!(parse_at("+2h", now).unwrap(), time::macros::datetime!(2026-01-01 02:00 UTC));
        assert_eq!(parse_at("2027-03-01T10:00:00Z", now).unwrap(), time::macros::datetime!(2027-03-01 10:00 UTC));
        assert!(parse_at("+15", now).is_err() && parse_at("soon", now).is_err());
        assert_eq!(rfc3339(time::macros::datetime!(2026-01-01 01:02:03.5 +01:00)), "2026-01-01T00:02:03Z");
    }

    #[test]
    fn repositories_come_from_names_files_and_guns() {
        let src = Source {
            notary_url: "https://notary.example:4443".into(),
            registry_url: "https://reg.example:5000".into(),
            gun_prefix: None,
            notary_ca: None,
            registry_ca: None,
            docker_config: Some("/nonexistent-for-test".into()),
        };
        assert!(Remote::connect(&src).err().unwrap().to_string().contains("no such file"));
        let src = Source { docker_config: None, ..src };
        let remote = Remote::connect(&src).unwrap();
        assert_eq!(remote.gun("app/web"), "reg.example:5000/app/web");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("repos");
        std::fs::write(&f, "# mine\nteam/api\n\nreg.example:5000/app/web  # a GUN\n").unwrap();
        let repos = repositories(&remote, &["app/web".into()], Some(&f), false).unwrap();
        assert_eq!(repos, ["app/web", "team/api"]);
        assert!(repositories(&remote, &[], None, false).unwrap_err().to_string().contains("no repositories"));
    }
}
