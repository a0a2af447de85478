//! The registry's read API (distribution's v2): the catalog, paginated with `n` and `last`
//! (where the registry allows it), and manifests by tag or digest with the `Accept` headers a
//! docker client sends, the digest from `Docker-Content-Digest` (or the bytes' SHA-256).
//! Signature artifacts are found the way registry 2.8 stores them without a referrers API:
//! cosign's `sha256-<hex>.sig` tag and the OCI referrers tag `sha256-<hex>`, an index.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::http::{Endpoint, MAX_DOWNLOAD};

/// Every manifest type a DCT-era or current client pushes.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
/// One catalog page.
const PAGE: usize = 100;

pub struct Registry {
    pub ep: Endpoint,
}

/// A signature artifact stored for a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// `cosign-bundle`, `cosign-legacy` or `notation`.
    pub kind: String,
    /// The artifact's manifest digest.
    pub digest: String,
}

/// The signature kind an artifact type names.
fn kind_of(artifact_type: &str) -> Option<&'static str> {
    match artifact_type {
        t if t.starts_with("application/vnd.dev.sigstore.bundle") => Some("cosign-bundle"),
        "application/vnd.cncf.notary.signature" => Some("notation"),
        _ => None,
    }
}

impl Registry {
    fn scope(repo: &str) -> String {
        format!("repository:{repo}:pull")
    }

    fn failed(&self, what: &str, status: u16, body: &[u8]) -> anyhow::Error {
        anyhow::anyhow!(
            "the registry {} answered {status} for {what}: {}",
            self.ep.base,
            String::from_utf8_lossy(body).trim().chars().take(200).collect::<String>()
        )
    }

    /// `GET /v2/`: the registry answers, over verified TLS, and takes the credentials (a wrong
    /// CA or password shows here, before any repository is read).
    pub fn ping(&self) -> Result<()> {
        let r = self.ep.request(false, "/v2/", &["application/json"], "", 1 << 20)?;
        if r.status != 200 {
            return Err(self.failed("/v2/", r.status, &r.body));
        }
        Ok(())
    }

    /// Every repository the catalog lists, page by page.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let path = match &last {
                None => format!("/v2/_catalog?n={PAGE}"),
                Some(l) => format!("/v2/_catalog?n={PAGE}&last={l}"),
            };
            let r = self.ep.request(false, &path, &["application/json"], "registry:catalog:*", 16 << 20)?;
            if r.status != 200 {
                return Err(self.failed("its catalog (list the repositories instead)", r.status, &r.body));
            }
            let v: serde_json::Value = serde_json::from_slice(&r.body).context("the catalog is not JSON")?;
            let page: Vec<String> = v["repositories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
                .collect();
            let more = r.header("link").is_some_and(|l| l.contains("rel=\"next\""));
            let next = page.last().cloned().filter(|l| more && Some(l) != last.as_ref());
            out.extend(page);
            match next {
                Some(l) => last = Some(l),
                None => break,
            }
        }
        Ok(out)
    }

    /// The digest `reference` (a tag) resolves to now; None when the registry has no such tag.
    pub fn resolve(&self, repo: &str, reference: &str) -> Result<Option<String>> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let r = self.ep.request(true, &path, MANIFEST_TYPES, &Self::scope(repo), 0)?;
        match r.status {
            200 => {}
            404 => return Ok(None),
            s => return Err(self.failed(&path, s, &r.body)),
        }
        if let Some(d) = r.header("docker-content-digest").filter(|d| d.starts_with("sha256:")) {
            return Ok(Some(d.to_string()));
        }
        // No digest header: the digest is the SHA-256 of the manifest's bytes.
        Ok(self
            .manifest(repo, reference)?
            .map(|(bytes, _)| format!("sha256:{}", crate::util::hex(&Sha256::digest(&bytes)))))
    }

    /// A manifest's bytes and media type; None when it is not there. By digest, the bytes are
    /// checked against it.
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<Option<(Vec<u8>, String)>> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let r = self.ep.request(false, &path, MANIFEST_TYPES, &Self::scope(repo), MAX_DOWNLOAD)?;
        match r.status {
            200 => {}
            404 => return Ok(None),
            s => return Err(self.failed(&path, s, &r.body)),
        }
        if let Some(hex) = reference.strip_prefix("sha256:") {
            let got = crate::util::hex(&Sha256::digest(&r.body));
            if got != hex {
                bail!("the registry served sha256:{got} for {repo}@{reference}");
            }
        }
        Ok(Some((r.body.clone(), r.header("content-type").unwrap_or_default().to_string())))
    }

    /// The cosign and Notation signatures stored for `digest`, as registry 2.8 keeps them.
    pub fn signatures(&self, repo: &str, digest: &str) -> Result<Vec<Artifact>> {
        let hex = digest.strip_prefix("sha256:").context("a sha256 digest")?;
        let mut out = Vec::new();
        if let Some(d) = self.resolve(repo, &format!("sha256-{hex}.sig"))? {
            out.push(Artifact { kind: "cosign-legacy".into(), digest: d });
        }
        if let Some((bytes, _)) = self.manifest(repo, &format!("sha256-{hex}"))? {
            let index: serde_json::Value = serde_json::from_slice(&bytes).context("the referrers tag is not JSON")?;
            for m in index["manifests"].as_array().into_iter().flatten() {
                let Some(d) = m["digest"].as_str() else { continue };
                // cosign 3.1.1 lists its bundle with the empty config's type here (measured
                // against registry 2.8): then the referrer's own manifest says what it is.
                let listed = m["artifactType"].as_str().unwrap_or("").to_string();
                let t = match kind_of(&listed) {
                    Some(_) => listed,
                    None => match self.manifest(repo, d)? {
                        Some((bytes, _)) => {
                            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                            v["artifactType"].as_str().or(v["config"]["mediaType"].as_str()).unwrap_or("").to_string()
                        }
                        None => continue,
                    },
                };
                if let Some(kind) = kind_of(&t) {
                    out.push(Artifact { kind: kind.into(), digest: d.into() });
                }
            }
        }
        Ok(out)
    }
}
