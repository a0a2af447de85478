//! Signing one image digest in every format its consumers read, idempotently: the one signing
//! function of `migrate`, `compare` and the scenarios (and of a migration to a registry the user
//! owns, which brings its own [`Registry`] and [`Runtime`]).
//!
//! Three formats, measured with cosign 3.1.1, Notation 1.3.2 and registry 2.8 (no referrers API,
//! so referrers live in the index under the tag `sha256-<hex>`):
//! - `cosign-bundle`: cosign 3's default, a Sigstore bundle (DSSE) as an OCI 1.1 referrer, its
//!   manifest's `artifactType` `application/vnd.dev.sigstore.bundle.v0.3+json`;
//! - `cosign-legacy`: `cosign sign --new-bundle-format=false`, a manifest under the tag
//!   `sha256-<hex>.sig`. The only one podman, CRI-O, skopeo and buildah (containers/image)
//!   read: a digest carrying only the bundle is refused by their `sigstoreSigned` policy;
//! - `notation`: a JWS envelope as a referrer, `artifactType` `application/vnd.cncf.notary.signature`.
//!
//! Verifying one cosign format alone: `cosign verify --new-bundle-format=false` reads only the
//! `.sig` tag; plain `cosign verify` reads only bundles when one exists (a bundle by another key
//! fails it although a `.sig` by this key is there) and falls back to the `.sig` tag otherwise.
//! So a bundle is verified only when the registry shows one.

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use xshell::Shell;

use crate::engine::Output;
use crate::util::shell_quote;

/// `artifactType` of a cosign bundle referrer.
pub const BUNDLE_ARTIFACT: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// `artifactType` of a Notation signature referrer.
pub const NOTATION_ARTIFACT: &str = "application/vnd.cncf.notary.signature";

/// A signature format a consumer can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    CosignBundle,
    CosignLegacy,
    Notation,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::CosignBundle, Format::CosignLegacy, Format::Notation];

    pub fn name(self) -> &'static str {
        match self {
            Format::CosignBundle => "cosign-bundle",
            Format::CosignLegacy => "cosign-legacy",
            Format::Notation => "notation",
        }
    }
}

/// `--cosign-format`: which of cosign's two formats to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CosignFormat {
    /// cosign 3's default: a Sigstore bundle referrer (cosign verify, Kyverno SigstoreBundle).
    Bundle,
    /// The `sha256-<hex>.sig` tag: what podman, CRI-O, skopeo and buildah read.
    Legacy,
    /// Both: every consumer can read one (the default).
    Both,
}

impl CosignFormat {
    pub fn formats(self) -> Vec<Format> {
        match self {
            CosignFormat::Bundle => vec![Format::CosignBundle],
            CosignFormat::Legacy => vec![Format::CosignLegacy],
            CosignFormat::Both => vec![Format::CosignBundle, Format::CosignLegacy],
        }
    }
}

/// How the tools reach the registry (paths are inside the [`Runtime`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// Plain HTTP (the sandbox's registry): every tool's "insecure" switch.
    pub plain_http: bool,
    /// A PEM file of the CA that signed the registry's TLS certificate.
    pub ca_file: Option<String>,
    /// A directory holding a docker `config.json` with the registry's credentials (cosign,
    /// Notation and crane all read it through `DOCKER_CONFIG`); never a password on argv.
    pub docker_config: Option<String>,
}

impl Registry {
    /// The sandbox's own registry: plain HTTP, no credentials.
    pub fn plain_http() -> Registry {
        Registry { plain_http: true, ..Registry::default() }
    }

    /// Environment for the tools: the CA for Go's TLS (crane and Notation have no CA flag), the
    /// credentials' directory.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(ca) = &self.ca_file {
            env.push(("SSL_CERT_FILE".to_string(), ca.clone()));
        }
        if let Some(dir) = &self.docker_config {
            env.push(("DOCKER_CONFIG".to_string(), dir.clone()));
        }
        env
    }

    fn crane(&self) -> Vec<String> {
        if self.plain_http {
            vec!["--insecure".into()]
        } else {
            vec![]
        }
    }

    fn cosign(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.plain_http {
            f.extend(["--allow-insecure-registry".to_string(), "--allow-http-registry".into()]);
        }
        if let Some(ca) = &self.ca_file {
            f.extend(["--registry-cacert".to_string(), ca.clone()]);
        }
        f
    }

    fn notation(&self) -> Vec<String> {
        if self.plain_http {
            vec!["--insecure-registry".into()]
        } else {
            vec![]
        }
    }
}

/// The signing material, as paths and names inside the [`Runtime`]. The cosign key's password
/// and Notation's configuration (its signing-key list, trust store and trust policy, under
/// `XDG_CONFIG_HOME`) are the runtime's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub cosign_key: String,
    pub cosign_pub: String,
    /// The key's name in Notation's `signingkeys.json`; `None`: its default key.
    pub notation_key: Option<String>,
}

/// Where the tools run: `sh -c script sh args…` with extra environment. The signers container
/// is one; it adds the cosign key's password itself.
pub trait Runtime {
    fn run(&self, sh: &Shell, script: &str, args: &[&str], env: &[(String, String)]) -> Result<Output>;
}

/// `repository@sha256:<hex>`: the only kind of reference this module signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestRef {
    pub repository: String,
    pub digest: String,
}

impl DigestRef {
    pub fn new(repository: &str, digest: &str) -> Result<DigestRef> {
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("`{digest}` is not a sha256 digest (sha256: and 64 hex digits)");
        }
        if repository.is_empty() || repository.contains('@') {
            bail!("`{repository}` is not a repository name");
        }
        Ok(DigestRef { repository: repository.to_string(), digest: digest.to_string() })
    }

    /// The referrers tag `sha256-<hex>` (a registry without the referrers API).
    pub fn referrers_tag(&self) -> String {
        format!("{}:{}", self.repository, self.digest.replace(':', "-"))
    }

    /// cosign's older format: the tag `sha256-<hex>.sig`.
    pub fn legacy_tag(&self) -> String {
        format!("{}.sig", self.referrers_tag())
    }
}

impl std::fmt::Display for DigestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.repository, self.digest)
    }
}

/// The signatures found for one digest, per format: their manifests' digests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Present {
    pub cosign_bundle: Vec<String>,
    pub cosign_legacy: Vec<String>,
    pub notation: Vec<String>,
}

impl Present {
    pub fn of(&self, f: Format) -> &[String] {
        match f {
            Format::CosignBundle => &self.cosign_bundle,
            Format::CosignLegacy => &self.cosign_legacy,
            Format::Notation => &self.notation,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Asked for, signed now and verified.
    Signed,
    /// Asked for; a signature by these keys verified already: nothing signed.
    Already,
    /// Not asked for; a signature in this format by these keys is there.
    Present,
    /// Not asked for; a signature in this format is there but does not verify with these keys.
    Foreign,
    /// Not asked for and not there.
    Absent,
    /// Asked for, and signing or verifying failed (the detail says which).
    Failed,
}

impl Status {
    pub fn short(self) -> &'static str {
        match self {
            Status::Signed => "signed",
            Status::Already => "already",
            Status::Present => "present",
            Status::Foreign => "foreign",
            Status::Absent => "-",
            Status::Failed => "FAILED",
        }
    }

    /// Whether the digest carries a signature of this format that these keys verify.
    pub fn carried(self) -> bool {
        matches!(self, Status::Signed | Status::Already | Status::Present)
    }
}

/// One format's outcome for one digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormatResult {
    pub format: Format,
    pub status: Status,
    /// Digests of the signature manifests of this format in the registry afterwards.
    pub signatures: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

fn line(argv: &[String]) -> String {
    argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
}

/// The command that signs `r` in format `f`.
pub fn sign_argv(f: Format, reg: &Registry, keys: &Keys, r: &DigestRef) -> Vec<String> {
    let reference = r.to_string();
    match f {
        Format::CosignBundle | Format::CosignLegacy => {
            let mut a = words(&["cosign", "sign", "--yes", "--key", &keys.cosign_key]);
            // Measured: without --use-signing-config=false, --tlog-upload=false is refused.
            a.extend(words(&["--use-signing-config=false", "--tlog-upload=false"]));
            if f == Format::CosignLegacy {
                a.push("--new-bundle-format=false".into());
            }
            a.extend(reg.cosign());
            a.push(reference);
            a
        }
        Format::Notation => {
            let mut a = words(&["notation", "sign"]);
            a.extend(reg.notation());
            if let Some(k) = &keys.notation_key {
                a.extend(["--key".to_string(), k.clone()]);
            }
            a.push(reference);
            a
        }
    }
}

/// The command that verifies `r`'s signature of format `f` alone (see the module's notes on
/// cosign's bundle).
pub fn verify_argv(f: Format, reg: &Registry, keys: &Keys, reference: &str) -> Vec<String> {
    match f {
        Format::CosignBundle | Format::CosignLegacy => {
            let mut a = words(&["cosign", "verify", "--key", &keys.cosign_pub, "--insecure-ignore-tlog=true"]);
            if f == Format::CosignLegacy {
                a.push("--new-bundle-format=false".into());
            }
            a.extend(reg.cosign());
            a.push(reference.to_string());
            a
        }
        Format::Notation => {
            let mut a = words(&["notation", "verify"]);
            a.extend(reg.notation());
            a.push(reference.to_string());
            a
        }
    }
}

/// A sh function `inspect REPO DIGEST` printing the referrers index, each referrer manifest
/// (base64, one line each) and the `.sig` tag's digest: what [`parse_inspect`] reads.
fn inspect_function(reg: &Registry) -> String {
    let crane = reg.crane().iter().map(|f| shell_quote(f)).collect::<Vec<_>>().join(" ");
    format!(
        r#"inspect() {{
  hex=${{2#sha256:}}
  if idx=$(crane manifest {crane} "$1:sha256-$hex" 2>/dev/null); then
    for d in $(printf '%s' "$idx" | grep -o 'sha256:[0-9a-f]\{{64\}}' | sort -u); do
      m=$(crane manifest {crane} "$1@$d" 2>/dev/null) && echo "@@manifest $d $(printf '%s' "$m" | base64 -w0)"
    done
  fi
  if s=$(crane digest {crane} "$1:sha256-$hex.sig" 2>/dev/null); then echo "@@legacy $s"; fi
  return 0
}}"#
    )
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    subject: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    digest: Option<String>,
}

/// Reads [`inspect_function`]'s lines: which referrer is which format (by its manifest, as
/// cosign's own index entry names the empty config type, not the bundle), for `digest` only.
pub fn parse_inspect(out: &str, digest: &str) -> Present {
    let mut p = Present::default();
    for l in out.lines() {
        if let Some(d) = l.strip_prefix("@@legacy ") {
            p.cosign_legacy.push(d.trim().to_string());
        }
        let Some(rest) = l.strip_prefix("@@manifest ") else { continue };
        let Some((d, b64)) = rest.split_once(' ') else { continue };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else { continue };
        let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else { continue };
        if m.subject.as_ref().and_then(|s| s.digest.as_deref()) != Some(digest) {
            continue;
        }
        let config = m.config.as_ref().and_then(|c| c.media_type.as_deref());
        let kind = m.artifact_type.as_deref().or(config);
        if kind == Some(BUNDLE_ARTIFACT) {
            p.cosign_bundle.push(d.to_string());
        } else if kind == Some(NOTATION_ARTIFACT) || config == Some(NOTATION_ARTIFACT) {
            p.notation.push(d.to_string());
        }
    }
    p
}

/// What the registry holds for `r` now.
pub fn inspect(rt: &dyn Runtime, sh: &Shell, reg: &Registry, r: &DigestRef) -> Result<Present> {
    let script = format!("{}\ninspect \"$1\" \"$2\"", inspect_function(reg));
    let out = rt.run(sh, &script, &[&r.repository, &r.digest], &reg.env())?;
    if !out.ok() {
        bail!("reading the signatures of {r}: {}", out.reason());
    }
    Ok(parse_inspect(&out.stdout, &r.digest))
}

/// The script that brings `r` to `wanted` given what is `present`: each asked-for format is
/// verified if there and signed (then verified) if not; the others only verified if there.
/// Lines `@@ <format> <status>` say what happened; after `@@final` the registry's state again.
pub fn ensure_script(reg: &Registry, keys: &Keys, r: &DigestRef, wanted: &[Format], present: &Present) -> String {
    let reference = r.to_string();
    let mut s = format!("{}\n", inspect_function(reg));
    for f in Format::ALL {
        let name = f.name();
        let verify = line(&verify_argv(f, reg, keys, &reference));
        let there = !present.of(f).is_empty();
        let log = format!("/tmp/{name}.log");
        if wanted.contains(&f) {
            let sign = line(&sign_argv(f, reg, keys, r));
            if there {
                s.push_str(&format!("if {verify} >{log} 2>&1; then echo '@@ {name} already'; else\n"));
            } else {
                s.push_str("if true; then\n");
            }
            s.push_str(&format!(
                "  if ! {sign} >{log} 2>&1; then echo \"@@ {name} failed sign: $(tail -n 2 {log} | tr '\\n' ' ')\";\n  \
                 elif ! {verify} >{log} 2>&1; then echo \"@@ {name} failed verify: $(tail -n 2 {log} | tr '\\n' ' ')\";\n  \
                 else echo '@@ {name} signed'; fi\nfi\n"
            ));
        } else if there {
            s.push_str(&format!(
                "if {verify} >{log} 2>&1; then echo '@@ {name} present'; else echo '@@ {name} foreign'; fi\n"
            ));
        } else {
            s.push_str(&format!("echo '@@ {name} absent'\n"));
        }
    }
    s.push_str("echo @@final\ninspect \"$1\" \"$2\"\n");
    s
}

/// Parses [`ensure_script`]'s output into one result per format.
pub fn parse_ensure(out: &str, digest: &str) -> Result<Vec<FormatResult>> {
    let (head, tail) = out.split_once("@@final").context("the signing script stopped before its end")?;
    let after = parse_inspect(tail, digest);
    let mut results = Vec::new();
    for f in Format::ALL {
        let prefix = format!("@@ {} ", f.name());
        let Some(rest) = head.lines().rev().find_map(|l| l.strip_prefix(&prefix)) else {
            bail!("the signing script said nothing about {}", f.name());
        };
        let (word, detail) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = match word {
            "signed" => Status::Signed,
            "already" => Status::Already,
            "present" => Status::Present,
            "foreign" => Status::Foreign,
            "absent" => Status::Absent,
            _ => Status::Failed,
        };
        let detail =
            if status == Status::Failed { format!("{word} {detail}").trim().to_string() } else { String::new() };
        results.push(FormatResult { format: f, status, signatures: after.of(f).to_vec(), detail });
    }
    Ok(results)
}

/// Signs `r` in each of `wanted` that these keys have not signed yet, verifies every format
/// present, and says per format what it did and which signature manifests are there now.
/// Never signs a format twice: a second call signs nothing.
pub fn ensure(
    rt: &dyn Runtime,
    sh: &Shell,
    reg: &Registry,
    keys: &Keys,
    r: &DigestRef,
    wanted: &[Format],
) -> Result<Vec<FormatResult>> {
    let present = inspect(rt, sh, reg, r)?;
    let script = ensure_script(reg, keys, r, wanted, &present);
    let out = rt.run(sh, &script, &[&r.repository, &r.digest], &reg.env())?;
    parse_ensure(&out.stdout, &r.digest).with_context(|| format!("signing {r}: {}", out.reason()))
}

#[cfg(test)]
mod tests;
