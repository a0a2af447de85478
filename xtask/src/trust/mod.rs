//! A repository's trust data made visible: `trust show` in the terminal, and the trees the HTML
//! reports draw before and after the steps that change them.

pub mod expiry;
pub mod fetch;
pub mod identity;
pub mod tree;
pub mod view;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::sandbox::Sandbox;
use crate::table::Spec;
use identity::trust_dir;
use view::{Source, TrustView};

/// The GUN for what a person typed: `test/rotate` is a repository of the sandbox's registry;
/// a name whose first part is a host (`host:port/…`, `a.b/…`, `localhost/…`) stays as given. A
/// trailing `:tag` or `@digest` is dropped: trust data belongs to the repository.
pub fn gun(registry: &str, repo: &str) -> Result<String> {
    let repo = repo.trim();
    let no_digest = repo.split_once('@').map_or(repo, |(r, _)| r);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    let name = match no_digest[last_slash..].find(':') {
        Some(colon) => &no_digest[..last_slash + colon],
        None => no_digest,
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_host = name.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let gun = if has_host { name.to_string() } else { format!("{registry}/{name}") };
    let ok = gun.split('/').skip(1).all(|p| !p.is_empty())
        && gun.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b));
    if name.is_empty() || !ok {
        bail!(
            "`{repo}` is not a repository name: lowercase letters, digits, `.`, `_`, `-` and `/` (e.g. test/trusttest or {registry}/test/trusttest)"
        );
    }
    Ok(gun)
}

/// Where the client finds the sandbox CA for the notary server: its mount outside the docker
/// configuration (the one under `~/.docker/tls/<host:port>/` only docker reads).
fn client_ca(spec: &Spec) -> Result<String> {
    let client = spec.client()?;
    client
        .files
        .iter()
        .find(|f| f.from == format!("pki/{}", crate::sandbox::pki::CA_CERT) && !f.to.contains("/.docker/"))
        .map(|f| f.to.clone())
        .context("sandbox.json mounts no CA into the client outside ~/.docker")
}

/// Whether a look asks a notary client what it makes of the data. Asking is a fetch from the
/// Notary server like any client's, and notary-server may sign and store a new timestamp or
/// snapshot while it answers (measured: after the `mix-and-match` edit, a fetch made the next
/// client accept the mixed targets). So the trees a scenario run takes around its steps only
/// read (the database, the client's files); `trust show` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    AskClients,
    ReadOnly,
}

/// The trust data of `gun` as the Notary server stores it (`identity` None), compared with the
/// client's cache; or as `identity`'s cache holds it, compared with the server.
pub fn snapshot(sh: &Shell, sb: &Sandbox, gun: &str, identity: Option<&str>, verify: Verify) -> Result<TrustView> {
    if let Some(id) = identity {
        crate::sandbox::name::validate_identity(id)?;
    }
    let client = &sb.spec.client()?.name;
    let max = fetch::MAX_FILE.to_string();
    let (base, cache_dir) = (trust_dir(None), trust_dir(identity));
    let (url, ca) = (sb.spec.server_url()?, client_ca(&sb.spec)?);
    let ask = if verify == Verify::AskClients { "1" } else { "0" };
    let argv = ["sh", "-c", fetch::CLIENT_SCRIPT, "sh", gun, &url, &ca, &base, &cache_dir, &max, ask];
    // The two engine calls are independent: run them side by side.
    let (db, out) = std::thread::scope(|s| {
        let db =
            s.spawn(|| Shell::new().map_err(anyhow::Error::from).and_then(|sh| sb.sql(&sh, &fetch::server_sql(gun))));
        let out = sb.exec(sh, client, &argv, &[], None);
        (db.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the database read panicked"))), out)
    });
    let db = db.context("reading the trust database")?;
    if !db.ok() {
        bail!("reading the trust database: {}", db.combined().trim());
    }
    let server = fetch::parse_server(&db.stdout)?;
    let out = out?;
    if !out.ok() {
        bail!("reading the client's trust data: {}", out.combined().trim());
    }
    let found = fetch::parse_client(&out.stdout)?;
    let holdings: Vec<_> = found.holdings.iter().chain(&server.signer_keys).cloned().collect();
    let now = time::OffsetDateTime::now_utc();
    let owner = Source::Cache { identity: None };
    let mut view = match identity {
        None => {
            if server.files.is_empty() {
                bail!("{}", no_trust_data(gun, &server.repositories));
            }
            let mut view = view::build(gun, Source::Server, &server.files, &holdings, now);
            match &found.cache {
                Some(cache) => view::compare(&mut view, owner, cache),
                None => view.compare_note = Some("the client has no cache of this repository".into()),
            }
            view
        }
        Some(id) => {
            if !found.identities.iter().any(|i| i == id) {
                let known = if found.identities.is_empty() { "none yet".into() } else { found.identities.join(", ") };
                bail!("no client identity `{id}` in sandbox `{}` (identities: {known}); scenario steps and `exec --identity` create them", sb.name);
            }
            let Some(cache) = &found.cache else {
                bail!("{id} has no trust data cached for {gun}: that identity never pulled or pushed it");
            };
            let mut view = view::build(gun, Source::Cache { identity: Some(id.into()) }, cache, &holdings, now);
            if server.files.is_empty() {
                view.compare_note = Some("the Notary server has no trust data for it".into());
            } else {
                view::compare(&mut view, Source::Server, &server.files);
            }
            view
        }
    };
    let cache_who = match identity {
        Some(id) => format!("{id}'s next update"),
        None => "the client's next update".into(),
    };
    for (who, code, output) in &found.checks {
        let who = if who == "fresh" { "a first-time client" } else { cache_who.as_str() };
        view.checks.push(fetch::check(who, *code, output));
    }
    Ok(view)
}

fn no_trust_data(gun: &str, known: &[String]) -> String {
    let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
    format!("the Notary server has no trust data for {gun}: sign a tag first (`docker push` with DOCKER_CONTENT_TRUST=1). Repositories with trust data: {known}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_become_guns() {
        let g = |r: &str| gun("sandboxregistry:5000", r).unwrap();
        assert_eq!(g("test/rotate"), "sandboxregistry:5000/test/rotate");
        assert_eq!(g("test/rotate:latest"), "sandboxregistry:5000/test/rotate");
        assert_eq!(g("sandboxregistry:5000/test/rotate"), "sandboxregistry:5000/test/rotate");
        assert_eq!(g("sandboxregistry:5000/test/rotate:v1@sha256:abc"), "sandboxregistry:5000/test/rotate");
        assert_eq!(g("trusttest"), "sandboxregistry:5000/trusttest");
        assert_eq!(g("localhost/x"), "localhost/x");
        for bad in ["", "Test/Upper", "a'b", "a//b", "x/y z", "a;drop"] {
            let err = gun("sandboxregistry:5000", bad).unwrap_err().to_string();
            assert!(err.contains("is not a repository name"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_client_reads_the_ca_from_its_own_mount() {
        let spec = crate::table::load().unwrap();
        assert_eq!(client_ca(&spec).unwrap(), "/etc/sandbox/ca.crt");
    }

    #[test]
    fn no_trust_data_names_what_exists() {
        let m = no_trust_data("r/x", &["r/a".into(), "r/b".into()]);
        assert!(m.contains("no trust data for r/x") && m.contains("r/a, r/b"), "{m}");
        assert!(no_trust_data("r/x", &[]).ends_with("none"));
    }
}
