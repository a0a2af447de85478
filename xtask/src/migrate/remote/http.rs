//! One HTTPS endpoint (a Notary server or a registry) as `migrate --from` reads it: TLS verified
//! with the CA the user named (or the system's roots), never without verification; and the two
//! ways those servers ask for credentials, answered from [`Credentials`]: `WWW-Authenticate:
//! Basic` (htpasswd registries) and `Bearer realm=…,service=…,scope=…` (a token server, as
//! Docker Hub's registry and Notary use). Only GET and HEAD: nothing here can write.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::credentials::Credentials;

pub use crate::tuf::MAX_DOWNLOAD;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the trust anchors came from, for messages.
#[derive(Clone, Debug)]
pub enum Roots {
    /// Only this CA file (`--notary-ca`, `--registry-ca`).
    Ca(std::path::PathBuf),
    /// The system's bundle (or, where the machine has none, the Mozilla roots built in).
    System,
}

pub struct Endpoint {
    /// `https://host[:port]`, no trailing slash.
    pub base: String,
    /// What the messages call it (`the Notary server`, `the registry`).
    pub what: &'static str,
    agent: ureq::Agent,
    roots: Roots,
    credentials: Option<Credentials>,
    /// Bearer tokens by scope, and whether the server asked for basic auth.
    tokens: RefCell<BTreeMap<String, String>>,
    basic: RefCell<bool>,
}

pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The system's CA bundle as Debian, Fedora and others lay it out (or `SSL_CERT_FILE`).
fn system_bundle() -> Option<Vec<u8>> {
    let named = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    named
        .into_iter()
        .chain(
            ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]
                .map(Into::into),
        )
        .find_map(|p| std::fs::read(p).ok())
}

fn certificates(pem: &[u8], origin: &str) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let certs: Vec<_> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        bail!("{origin} holds no PEM certificate");
    }
    Ok(certs)
}

impl Endpoint {
    pub fn new(
        base: &str,
        what: &'static str,
        ca: Option<&Path>,
        credentials: Option<Credentials>,
    ) -> Result<Endpoint> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("https://") && !base.starts_with("http://") {
            bail!("{what} URL {base} must start with https:// (or http:// for a plain-HTTP server you name as such)");
        }
        let (roots, certs) = match ca {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| format!("reading the CA {}", path.display()))?;
                (Roots::Ca(path.to_path_buf()), Some(certificates(&pem, &path.display().to_string())?))
            }
            None => (Roots::System, system_bundle().map(|pem| certificates(&pem, "the system CA bundle")).transpose()?),
        };
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(certs) = certs {
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Endpoint {
            base,
            what,
            agent,
            roots,
            credentials,
            tokens: RefCell::new(BTreeMap::new()),
            basic: RefCell::new(false),
        })
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// GET (or HEAD) `path` with `accept`, authenticating as the server asks; at most `limit`
    /// bytes of body. `scope` is the token scope the request needs (`repository:<name>:pull`).
    pub fn request(&self, head: bool, path: &str, accept: &[&str], scope: &str, limit: u64) -> Result<Response> {
        let first = self.send(head, path, accept, scope, limit)?;
        if first.status != 401 {
            return Ok(first);
        }
        let challenge = first.header("www-authenticate").unwrap_or("").to_string();
        self.answer(&challenge, scope)?;
        let second = self.send(head, path, accept, scope, limit)?;
        if second.status == 401 {
            bail!("{}", self.refused());
        }
        Ok(second)
    }

    fn refused(&self) -> String {
        match &self.credentials {
            Some(c) => format!(
                "{} {} refused the credentials of user `{}` (from {}): wrong user or password",
                self.what, self.base, c.user, c.source
            ),
            None => format!(
                "{} {} asks for credentials and none were found: put them in a docker config.json (--docker-config) or the environment ({})",
                self.what,
                self.base,
                match self.what {
                    "the Notary server" => "TRUST_SANDBOX_NOTARY_USERNAME/_PASSWORD",
                    _ => "TRUST_SANDBOX_REGISTRY_USERNAME/_PASSWORD",
                }
            ),
        }
    }

    /// Reads a 401's challenge and gets what it asks for: basic credentials, or a bearer token.
    fn answer(&self, challenge: &str, scope: &str) -> Result<()> {
        let (kind, params) = parse_challenge(challenge);
        match kind.as_str() {
            "basic" => {
                if self.credentials.is_none() {
                    bail!("{}", self.refused());
                }
                *self.basic.borrow_mut() = true;
                Ok(())
            }
            "bearer" => {
                let realm = params
                    .get("realm")
                    .with_context(|| format!("{} sent a Bearer challenge without a realm", self.what))?;
                let mut query = Vec::new();
                if let Some(service) = params.get("service") {
                    query.push(format!("service={}", encode(service)));
                }
                let scope = params.get("scope").cloned().unwrap_or_else(|| scope.to_string());
                if !scope.is_empty() {
                    query.push(format!("scope={}", encode(&scope)));
                }
                let url = if query.is_empty() { realm.clone() } else { format!("{realm}?{}", query.join("&")) };
                let mut req = self.agent.get(&url);
                if let Some(c) = &self.credentials {
                    req = req.header("Authorization", crate::util::basic_auth(&c.user, &c.secret));
                }
                let mut resp = req.call().map_err(|e| self.transport_error(&url, e))?;
                let status = resp.status().as_u16();
                if status == 401 || status == 403 {
                    bail!("{} (token server {realm} answered {status})", self.refused());
                }
                if status != 200 {
                    bail!("the token server {realm} of {} answered {status}", self.what);
                }
                let body: serde_json::Value = serde_json::from_slice(
                    &resp.body_mut().with_config().limit(1 << 20).read_to_vec().context("reading the token")?,
                )
                .context("the token server answered no JSON")?;
                let token = body["token"]
                    .as_str()
                    .or(body["access_token"].as_str())
                    .context("the token server's answer holds no token")?;
                self.tokens.borrow_mut().insert(scope_key(&scope), token.to_string());
                Ok(())
            }
            _ => bail!(
                "{} {} answered 401 without a challenge this tool can answer ({challenge:?})",
                self.what,
                self.base
            ),
        }
    }

    fn send(&self, head: bool, path: &str, accept: &[&str], scope: &str, limit: u64) -> Result<Response> {
        let url = format!("{}{path}", self.base);
        let auth = if let Some(t) = self.tokens.borrow().get(&scope_key(scope)) {
            Some(format!("Bearer {t}"))
        } else if *self.basic.borrow() {
            self.credentials.as_ref().map(|c| crate::util::basic_auth(&c.user, &c.secret))
        } else {
            None
        };
        let mut req = if head { self.agent.head(&url) } else { self.agent.get(&url) };
        for a in accept {
            req = req.header("Accept", *a);
        }
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| self.transport_error(&url, e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = if head {
            Vec::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .with_context(|| format!("reading {url} (at most {limit} bytes)"))?
        };
        Ok(Response { status, headers, body })
    }

    /// A connection or TLS failure, said plainly: no retry without verification follows.
    fn transport_error(&self, url: &str, e: ureq::Error) -> anyhow::Error {
        let text = e.to_string();
        let tls = matches!(e, ureq::Error::Rustls(_)) || text.contains("certificate") || text.contains("tls");
        if tls {
            let hint = match &self.roots {
                Roots::Ca(p) => format!("verified with the CA {} only", p.display()),
                Roots::System => {
                    "verified with the system's CA bundle (name the server's CA with --notary-ca/--registry-ca)".into()
                }
            };
            anyhow::anyhow!(
                "TLS to {} {url} failed: {text} ({hint}; nothing falls back to an unverified connection)",
                self.what
            )
        } else {
            anyhow::anyhow!("{} {url}: {text}", self.what)
        }
    }
}

fn scope_key(scope: &str) -> String {
    scope.to_string()
}

/// Percent-encodes a query value (scopes hold `:` and `/`, services may hold anything).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `Bearer realm="https://auth",service="registry",scope="repository:x:pull"` → ("bearer", {…}).
pub fn parse_challenge(header: &str) -> (String, BTreeMap<String, String>) {
    let header = header.trim();
    let (kind, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_string();
        }
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    (kind.to_ascii_lowercase(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed_with_quoted_commas() {
        let (kind, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(kind, "bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        let (kind, p) = parse_challenge(r#"Basic realm="trust-sandbox""#);
        assert_eq!((kind.as_str(), p["realm"].as_str()), ("basic", "trust-sandbox"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("repository:app/web:pull"), "repository%3Aapp%2Fweb%3Apull");
    }

    #[test]
    fn a_plain_name_is_refused_as_a_url() {
        assert!(Endpoint::new("notary.example:4443", "the Notary server", None, None).is_err());
    }
}
