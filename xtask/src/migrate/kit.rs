//! The consumer kit: what each enforcement point needs to check the signatures `migrate` wrote,
//! rendered from the same public key and certificate, written beside them (`<state>/signers/kit`,
//! or `migrate --kit DIR`). It holds no secret: a public key, a certificate, policies.
//!
//! - `containers/policy.json`, `containers/registries.d/`, `containers/registries.conf.d/`: podman,
//!   CRI-O, skopeo and buildah (containers/image) inside the sandbox network, where the registry is
//!   `sandboxregistry:5000`; `containers/host/…` the same for the host, where it is
//!   `127.0.0.1:<port>`: one scope per migrated repository, its signed name given with
//!   `exactRepository`. Not `remapIdentity`: it matches like `matchRepoDigestOrExact`, which
//!   refuses a signature whose identity names no tag or digest, and cosign signs the repository
//!   name alone (measured with skopeo 1.18: `Signature for identity "…" is not accepted`, by tag
//!   and by digest).
//! - `notation/`: Notation's trust policy and trust store.
//! - `kyverno/clusterpolicy.yaml`: a Kyverno `ClusterPolicy` for a Kubernetes admission check.
//! - `digests.txt`: every migrated tag pinned to the digest DCT signed (deploy by digest).
//!
//! The default policy a careful operator wants: **reject everything**, then require a signature
//! by this key for the one registry. Fail closed: an image from a registry the policy does not
//! name, a typo in a registry name, a local archive — all refused until the operator adds a scope
//! with a requirement of its own. Debian's containers-common ships `insecureAcceptAnything` as
//! the default, which turns every mistake into a silent unsigned pull. [`check_containers_policy`]
//! refuses any policy that could accept an unsigned image; the kit is written only if it passes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use super::signing::Format;

/// Marks a directory as a kit (and lists its files), so a rerun may replace it and nothing else.
pub const MARKER: &str = ".trust-sandbox-kit";
/// The registries.d / registries.conf.d file name the kit installs.
const FILE_STEM: &str = "trust-sandbox";
/// Where a consumer finds its containers files in the kit (the network variant).
pub const POLICY: &str = "containers/policy.json";
pub const REGISTRIES_D: &str = "containers/registries.d";
pub const REGISTRIES_CONF: &str = "containers/registries.conf.d/50-trust-sandbox.conf";

/// What the kit is rendered from.
#[derive(Debug, Clone)]
pub struct Input {
    pub sandbox: String,
    /// The registry as the sandbox network names it (`sandboxregistry:5000`): the signed identity.
    pub registry: String,
    /// The registry as the host reaches it (`127.0.0.1:<port>`).
    pub host_registry: String,
    /// Whether the registry speaks plain HTTP (the sandbox's does).
    pub plain_http: bool,
    pub cosign_pub: String,
    pub notation_cert: String,
    pub notation_policy: String,
    /// The formats `migrate` wrote: the Kyverno rules follow them.
    pub formats: Vec<Format>,
    /// `repository:tag@digest` of every migrated tag.
    pub pinned: Vec<String>,
    /// The migrated repositories' paths below the registry (`app/web`), for the host variant.
    pub repositories: Vec<String>,
}

/// One file of the kit, relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub content: String,
}

/// A containers policy: reject by default; for each scope, this key's sigstore signature with
/// the given signed identity.
pub fn containers_policy(scopes: &[(String, Value)], cosign_pub: &str) -> Value {
    let key = base64::engine::general_purpose::STANDARD.encode(cosign_pub);
    let docker: serde_json::Map<String, Value> = scopes
        .iter()
        .map(|(scope, identity)| {
            // keyData inline, so the file works wherever it is installed.
            let req = json!([{"type": "sigstoreSigned", "keyData": key, "signedIdentity": identity}]);
            (scope.clone(), req)
        })
        .collect();
    json!({"default": [{"type": "reject"}], "transports": {"docker": docker}})
}

/// The registry's scope as the sandbox network names it: the signature's own repository name.
pub fn network_scopes(registry: &str) -> Vec<(String, Value)> {
    vec![(registry.to_string(), json!({"type": "matchRepository"}))]
}

/// The host's scopes: each migrated repository under the loopback name, accepting the signature
/// made for its name in the sandbox network.
pub fn host_scopes(host: &str, registry: &str, repositories: &[String]) -> Vec<(String, Value)> {
    repositories
        .iter()
        .map(|r| {
            (format!("{host}/{r}"), json!({"type": "exactRepository", "dockerRepository": format!("{registry}/{r}")}))
        })
        .collect()
}

/// Refuses a containers policy that could let an unsigned image through: a default other than
/// `reject`, `insecureAcceptAnything` anywhere, a wildcard or empty scope, a scope without a
/// signature requirement, a sigstore requirement without a key or identity.
pub fn check_containers_policy(policy: &Value) -> Result<()> {
    if policy.get("default") != Some(&json!([{"type": "reject"}])) {
        bail!(
            "the default must be exactly [{{\"type\": \"reject\"}}], got {}",
            policy.get("default").unwrap_or(&Value::Null)
        );
    }
    let transports = policy.get("transports").and_then(Value::as_object).context("no transports")?;
    let mut scopes = 0;
    for (transport, entries) in transports {
        let entries = entries.as_object().with_context(|| format!("transport {transport} is not an object"))?;
        for (scope, reqs) in entries {
            scopes += 1;
            if scope.is_empty() || scope.contains('*') {
                bail!("{transport} scope `{scope}` is a wildcard: name the registry or repository");
            }
            let reqs = reqs
                .as_array()
                .filter(|r| !r.is_empty())
                .with_context(|| format!("scope `{scope}` has no requirement"))?;
            for r in reqs {
                match r.get("type").and_then(Value::as_str) {
                    Some("reject") => {}
                    Some("sigstoreSigned") => {
                        let key = ["keyData", "keyPath", "keyPaths", "keyDatas"].iter().any(|k| {
                            r.get(*k).is_some_and(|v| {
                                v.as_str().is_some_and(|s| !s.is_empty()) || v.as_array().is_some_and(|a| !a.is_empty())
                            })
                        });
                        if !key {
                            bail!("scope `{scope}`: sigstoreSigned names no key");
                        }
                        let identity = r.pointer("/signedIdentity/type").and_then(Value::as_str);
                        if !matches!(
                            identity,
                            Some(
                                "matchRepository"
                                    | "matchExact"
                                    | "matchRepoDigestOrExact"
                                    | "remapIdentity"
                                    | "exactRepository"
                            )
                        ) {
                            bail!("scope `{scope}`: sigstoreSigned needs a signedIdentity, got {identity:?}");
                        }
                    }
                    Some("signedBy") => {}
                    other => bail!("scope `{scope}`: requirement {other:?} accepts images without a signature"),
                }
            }
        }
    }
    if scopes == 0 {
        bail!("no scope requires a signature");
    }
    Ok(())
}

/// registries.d: read and write sigstore signatures as attachments for `scope`.
fn registries_d(scope: &str) -> Value {
    json!({"docker": {scope: {"use-sigstore-attachments": true}}})
}

#[derive(Serialize)]
struct RegistriesConf {
    registry: Vec<RegistryConf>,
}

#[derive(Serialize)]
struct RegistryConf {
    location: String,
    insecure: bool,
}

/// registries.conf.d: the sandbox's registry speaks plain HTTP (a real one would not need this).
fn registries_conf(scope: &str) -> Result<String> {
    let conf = RegistriesConf { registry: vec![RegistryConf { location: scope.to_string(), insecure: true }] };
    Ok(format!(
        "# The sandbox's registry speaks plain HTTP; a registry with TLS needs no entry here.\n{}",
        toml::to_string(&conf)?
    ))
}

/// A Kyverno ClusterPolicy: every Pod's image from the registry must carry this key's cosign
/// signature (the `.sig` format Kyverno's `Cosign` type reads; no Rekor, no SCT: the sandbox
/// signs offline) and, when `migrate` wrote Notation signatures, this certificate's Notation
/// signature too. Field names as in Kyverno's `kyverno.io/v1` API (1.13+ for `failureAction`).
pub fn kyverno_policy(input: &Input) -> Value {
    let images = json!([format!("{}/*", input.registry)]);
    let rule = |name: &str, verify: Value| {
        json!({
            "name": name,
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "verifyImages": [verify],
        })
    };
    let common = |kind: &str, attestor: Value| {
        let mut v = json!({
            "type": kind,
            "imageReferences": images,
            "failureAction": "Enforce",
            "required": true,
            "mutateDigest": true,
            "verifyDigest": true,
            "attestors": [{"count": 1, "entries": [attestor]}],
        });
        if input.plain_http {
            v["imageRegistryCredentials"] = json!({"allowInsecureRegistry": true});
        }
        v
    };
    let mut rules = Vec::new();
    if input.formats.contains(&Format::CosignLegacy) || input.formats.contains(&Format::CosignBundle) {
        // Kyverno's `Cosign` type reads the `.sig` format; `SigstoreBundle` the bundle.
        let kind = if input.formats.contains(&Format::CosignLegacy) { "Cosign" } else { "SigstoreBundle" };
        rules.push(rule(
            "cosign-key",
            common(
                kind,
                json!({"keys": {
                    "publicKeys": input.cosign_pub.trim_end(),
                    "rekor": {"ignoreTlog": true},
                    "ctlog": {"ignoreSCT": true},
                }}),
            ),
        ));
    }
    if input.formats.contains(&Format::Notation) {
        rules.push(rule(
            "notation-certificate",
            common("Notary", json!({"certificates": {"cert": input.notation_cert.trim_end()}})),
        ));
    }
    json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": format!("trust-sandbox-{}-verify-images", input.sandbox.replace(['_', '.'], "-")),
            "annotations": {"policies.kyverno.io/description": "Images of the trust-sandbox registry must carry the signatures `migrate` wrote."},
        },
        "spec": {"background": false, "failurePolicy": "Fail", "webhookTimeoutSeconds": 30, "rules": rules},
    })
}

fn json_text(v: &Value) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).expect("a JSON value serialises"))
}

fn yaml_text(v: &Value) -> Result<String> {
    serde_saphyr::to_string(v).context("rendering YAML")
}

/// Every file of the kit; fails (writing nothing) if a containers policy would accept an
/// unsigned image.
pub fn render(input: &Input) -> Result<Vec<File>> {
    let file = |path: &str, content: String| File { path: path.to_string(), content };
    let network = containers_policy(&network_scopes(&input.registry), &input.cosign_pub);
    check_containers_policy(&network).context("refusing to write containers/policy.json")?;
    // Without a migrated repository the host variant would name no scope: it is left out.
    let host_scopes = host_scopes(&input.host_registry, &input.registry, &input.repositories);
    let host = containers_policy(&host_scopes, &input.cosign_pub);
    if !host_scopes.is_empty() {
        check_containers_policy(&host).context("refusing to write containers/host/policy.json")?;
    }
    let mut files = vec![
        file("README.md", readme(input)),
        file("cosign.pub", input.cosign_pub.clone()),
        file("notation.crt", input.notation_cert.clone()),
        file(POLICY, json_text(&network)),
        file(&format!("{REGISTRIES_D}/{FILE_STEM}.yaml"), yaml_text(&registries_d(&input.registry))?),
        file("notation/trustpolicy.json", input.notation_policy.clone()),
        file(&format!("notation/truststore/x509/ca/{FILE_STEM}/notation.crt"), input.notation_cert.clone()),
        file("kyverno/clusterpolicy.yaml", yaml_text(&kyverno_policy(input))?),
        file("digests.txt", input.pinned.iter().map(|p| format!("{p}\n")).collect()),
    ];
    if input.plain_http {
        files.push(file(REGISTRIES_CONF, registries_conf(&input.registry)?));
    }
    if !host_scopes.is_empty() {
        files.push(file("containers/host/policy.json", json_text(&host)));
        let regd = yaml_text(&registries_d(&input.host_registry))?;
        files.push(file(&format!("containers/host/registries.d/{FILE_STEM}.yaml"), regd));
        if input.plain_http {
            let conf = registries_conf(&input.host_registry)?;
            files.push(file(&format!("containers/host/registries.conf.d/50-{FILE_STEM}.conf"), conf));
        }
    }
    Ok(files)
}

fn readme(input: &Input) -> String {
    let legacy = input.formats.contains(&Format::CosignLegacy);
    format!(
        "# Consumer kit of trust-sandbox `{sandbox}`\n\n\
         Written by `cargo xtask sandbox migrate` from the sandbox's cosign public key and Notation\n\
         certificate. No secret is in here.\n\n\
         podman, CRI-O, skopeo, buildah (inside the sandbox network, registry `{reg}`):\n\n\
         \x20   cp containers/policy.json /etc/containers/policy.json\n\
         \x20   cp containers/registries.d/{FILE_STEM}.yaml /etc/containers/registries.d/\n\
         \x20   cp containers/registries.conf.d/50-{FILE_STEM}.conf /etc/containers/registries.conf.d/\n\
         \x20   podman pull {reg}/REPOSITORY:TAG\n\n\
         From the host (registry `{host}`): the same from `containers/host/`, which names each\n\
         migrated repository (`exactRepository`: the signature names the repository in the sandbox\n\
         network); rerun `migrate` after signing a new repository.\n\
         The policy rejects everything it does not name: add each other registry you pull from\n\
         with a requirement of its own; never `insecureAcceptAnything`.\n\
         {warn}\n\
         Notation: `notation cert add --type ca --store {FILE_STEM} notation.crt`, `notation policy import notation/trustpolicy.json`.\n\
         Kubernetes: `kubectl apply -f kyverno/clusterpolicy.yaml` (Kyverno 1.13 or later).\n\
         Deploy by digest: `digests.txt` pins each migrated tag to the digest DCT signed.\n",
        sandbox = input.sandbox,
        reg = input.registry,
        host = input.host_registry,
        warn = if legacy {
            ""
        } else {
            "\nWARNING: these images carry no cosign signature in the `.sig` format: the containers policy\nrefuses every one of them (run `migrate --cosign-format both`).\n"
        },
    )
}

/// Where `migrate` writes the kit unless told otherwise: beside the key and certificate.
pub fn default_dir(sb: &crate::sandbox::Sandbox) -> PathBuf {
    super::signers::state_dir(sb).join("kit")
}

/// Checked before anything is signed: `dir` must be (or can become) a kit directory we may write.
pub fn preflight(dir: &Path) -> Result<()> {
    let fix = "pass `--kit DIR` with a writable directory that is empty, new, or an earlier kit";
    if dir.exists() {
        if !dir.is_dir() {
            bail!("cannot write the consumer kit to {}: it is not a directory; {fix}", dir.display());
        }
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if !dir.join(MARKER).is_file() && entries.next().is_some() {
            bail!("{} holds files but no consumer kit ({MARKER}): refusing to write into it; {fix}", dir.display());
        }
        return probe(dir).with_context(|| format!("cannot write the consumer kit to {}; {fix}", dir.display()));
    }
    let mut ancestor: PathBuf = dir.to_path_buf();
    while !ancestor.exists() {
        ancestor = match ancestor.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
    }
    if !ancestor.is_dir() {
        bail!("cannot write the consumer kit to {}: {} is not a directory; {fix}", dir.display(), ancestor.display());
    }
    probe(&ancestor).with_context(|| format!("cannot write the consumer kit to {}; {fix}", dir.display()))
}

fn probe(dir: &Path) -> Result<()> {
    tempfile::Builder::new().prefix(".kit-probe-").tempdir_in(dir).map(drop).map_err(anyhow::Error::from)
}

/// The files of the kit in `dir` (as its marker lists them); empty when there is none.
pub fn listed(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(MARKER)).map(|t| t.lines().map(String::from).collect()).unwrap_or_default()
}

/// Writes the kit: each file atomically in place (a consumer container that mounts the
/// directory sees the new files), files of an earlier kit that are no longer part of it
/// removed. World-readable: nothing in it is secret.
pub fn write(dir: &Path, files: &[File]) -> Result<()> {
    preflight(dir)?;
    let old: BTreeSet<String> = listed(dir).into_iter().collect();
    for f in files {
        if f.path.split('/').any(|c| c.is_empty() || c == "..") {
            bail!("kit file `{}` is not a relative path", f.path);
        }
        let path = dir.join(&f.path);
        let parent = path.parent().expect("a file in the kit has a parent");
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        crate::util::write_mode(&path, f.content.as_bytes(), 0o644)?;
    }
    let new: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    for gone in old.difference(&new) {
        if !gone.split('/').any(|c| c.is_empty() || c == "..") {
            let _ = std::fs::remove_file(dir.join(gone));
        }
    }
    let listing: String = new.iter().map(|p| format!("{p}\n")).collect();
    crate::util::write_mode(&dir.join(MARKER), listing.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests;
