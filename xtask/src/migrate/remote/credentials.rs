//! Where the credentials for a remote Notary server and registry come from: environment
//! variables, or a docker `config.json` (its `auths`, or a credential helper it names). Never
//! from the command line.
//!
//! Supported in `config.json`: `auths.<host>.auth` (base64 `user:password`), `auths.<host>.username`
//! with `password`, and `credHelpers.<host>` / `credsStore` (the `docker-credential-<name> get`
//! protocol: the server on stdin, `{"Username", "Secret"}` on stdout). Not supported: identity
//! tokens (`identitytoken`, or a helper answering with the user `<token>`), which need an OAuth
//! exchange with the registry's token server; they are reported, not ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// A user and password for one server, and where they came from (for messages; never the secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub secret: String,
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ user: {:?}, source: {:?}, secret: *** }}", self.user, self.source)
    }
}

/// Which server: the variable names differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Notary,
    Registry,
}

impl Server {
    pub fn env_names(self) -> (&'static str, &'static str) {
        match self {
            Server::Notary => ("TRUST_SANDBOX_NOTARY_USERNAME", "TRUST_SANDBOX_NOTARY_PASSWORD"),
            Server::Registry => ("TRUST_SANDBOX_REGISTRY_USERNAME", "TRUST_SANDBOX_REGISTRY_PASSWORD"),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The docker config to read: the one named, else `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`, if it exists.
pub fn docker_config_path(named: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = named {
        return Some(p.to_path_buf());
    }
    let default = std::env::var_os("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")))?;
    default.exists().then_some(default)
}

/// `host[:port]` of a URL or of a docker config key (`https://host:port/v1/` → `host:port`).
pub fn host_of(s: &str) -> String {
    let rest = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// Docker Hub's registry hosts all share the config key `https://index.docker.io/v1/`.
fn config_keys_for(host: &str) -> Vec<String> {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            vec!["https://index.docker.io/v1/".to_string(), host.to_string()]
        }
        _ => vec![host.to_string()],
    }
}

/// The credentials for `host` (`host[:port]`): environment variables first (both set, or
/// neither), then the docker config. None: ask the server anonymously.
pub fn lookup(server: Server, host: &str, config: Option<&Path>) -> Result<Option<Credentials>> {
    let (user_var, pass_var) = server.env_names();
    match (std::env::var(user_var).ok(), std::env::var(pass_var).ok()) {
        (Some(user), Some(secret)) => {
            return Ok(Some(Credentials { user, secret, source: format!("${user_var} and ${pass_var}") }))
        }
        (None, None) => {}
        _ => bail!("set both {user_var} and {pass_var}, or neither"),
    }
    let Some(path) = config else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the docker config {}", path.display()))?;
    from_config(&text, host, &path.display().to_string(), &run_helper)
}

/// Runs `docker-credential-<helper> get` with `server` on stdin; returns (user, secret).
pub type HelperRunner = dyn Fn(&str, &str) -> Result<Option<(String, String)>>;

fn run_helper(helper: &str, server: &str) -> Result<Option<(String, String)>> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running the docker credential helper {program} (is it installed?)"))?;
    child.stdin.take().context("helper stdin")?.write_all(server.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        // The protocol's answer for an unknown server.
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        bail!("{program} get {server} failed: {}", msg.trim());
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out.stdout).with_context(|| format!("{program} answered no JSON"))?;
    Ok(Some((a.username, a.secret)))
}

/// The lookup in a config's text (pure but for the helper, which tests replace).
pub fn from_config(text: &str, host: &str, origin: &str, helper: &HelperRunner) -> Result<Option<Credentials>> {
    let cfg: DockerConfig =
        serde_json::from_str(text).with_context(|| format!("parsing the docker config {origin}"))?;
    let keys = config_keys_for(host);
    let helper_name = keys.iter().find_map(|k| cfg.cred_helpers.get(k)).or(cfg.creds_store.as_ref());
    if let Some(name) = helper_name {
        for k in &keys {
            if let Some((user, secret)) = helper(name, k)? {
                if user == "<token>" {
                    bail!("the credential helper {name} holds an identity token for {host}; identity tokens are not supported: set {}/{} or an `auth` entry", Server::Registry.env_names().0, Server::Registry.env_names().1);
                }
                return Ok(Some(Credentials { user, secret, source: format!("docker-credential-{name} ({origin})") }));
            }
        }
    }
    let entry = cfg.auths.iter().find(|(k, _)| keys.contains(&host_of(k)) || keys.contains(k)).map(|(_, v)| v);
    let Some(entry) = entry else { return Ok(None) };
    if entry.identitytoken.as_deref().is_some_and(|t| !t.is_empty()) {
        bail!("{origin} holds an identity token for {host}, which is not supported: use a password or access token (`auth`), or the environment variables");
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .with_context(|| format!("{origin}: the `auth` of {host} is not base64"))?;
        let text = String::from_utf8(decoded).with_context(|| format!("{origin}: the `auth` of {host} is not text"))?;
        let (user, secret) =
            text.split_once(':').with_context(|| format!("{origin}: the `auth` of {host} is not user:password"))?;
        return Ok(Some(Credentials { user: user.into(), secret: secret.into(), source: origin.to_string() }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credentials { user: u.clone(), secret: p.clone(), source: origin.to_string() })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str, _: &str) -> Result<Option<(String, String)>> {
        Ok(None)
    }

    #[test]
    fn auths_are_found_by_host_whatever_the_key_spells() {
        // base64("sandbox:pw")
        let cfg = r#"{"auths": {"https://reg.example:5000/v1/": {"auth": "c2FuZGJveDpwdw=="}}}"#;
        let c = from_config(cfg, "reg.example:5000", "cfg", &none).unwrap().unwrap();
        assert_eq!((c.user.as_str(), c.secret.as_str(), c.source.as_str()), ("sandbox", "pw", "cfg"));
        assert!(from_config(cfg, "other:5000", "cfg", &none).unwrap().is_none());
        let split = r#"{"auths": {"reg": {"username": "u", "password": "p"}}}"#;
        assert_eq!(from_config(split, "reg", "cfg", &none).unwrap().unwrap().secret, "p");
        let hub = r#"{"auths": {"https://index.docker.io/v1/": {"auth": "c2FuZGJveDpwdw=="}}}"#;
        assert!(from_config(hub, "registry-1.docker.io", "cfg", &none).unwrap().is_some());
    }

    #[test]
    fn helpers_answer_before_auths_and_identity_tokens_are_refused() {
        let cfg = r#"{"auths": {"reg": {"auth": "c2FuZGJveDpwdw=="}}, "credHelpers": {"reg": "pass"}}"#;
        let helper = |name: &str, server: &str| -> Result<Option<(String, String)>> {
            assert_eq!((name, server), ("pass", "reg"));
            Ok(Some(("robot".into(), "s3cret".into())))
        };
        let c = from_config(cfg, "reg", "cfg", &helper).unwrap().unwrap();
        assert_eq!((c.user.as_str(), c.secret.as_str()), ("robot", "s3cret"));
        assert!(c.source.contains("docker-credential-pass"));
        let token = |_: &str, _: &str| -> Result<Option<(String, String)>> { Ok(Some(("<token>".into(), "t".into()))) };
        let err = from_config(r#"{"credsStore": "desktop"}"#, "reg", "cfg", &token).unwrap_err().to_string();
        assert!(err.contains("identity token"), "{err}");
        let err =
            from_config(r#"{"auths": {"reg": {"identitytoken": "x"}}}"#, "reg", "cfg", &none).unwrap_err().to_string();
        assert!(err.contains("identity token"), "{err}");
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let c = Credentials { user: "u".into(), secret: "hunter2".into(), source: "env".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn hosts_come_from_urls_and_keys() {
        assert_eq!(host_of("https://Notary.Example:4443/"), "notary.example:4443");
        assert_eq!(host_of("reg:5000"), "reg:5000");
        assert_eq!(host_of("https://index.docker.io/v1/"), "index.docker.io");
    }
}
