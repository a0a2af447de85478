//! The user's signing keys for `migrate --from … --apply`: a cosign key reference (a file, or a
//! KMS URI passed to cosign as it is) and/or a Notation key (by name in the user's Notation
//! configuration, or a certificate and key), and what the plan says about them.

use std::path::{Path, PathBuf};

use crate::migrate::signing::{CosignFormat, Format};
use crate::util;
use anyhow::{bail, Context, Result};

/// The user's Notation key: by name in their Notation configuration, or a certificate and key.
#[derive(Debug, Clone)]
pub enum NotationKey {
    Named { name: String, config: PathBuf },
    Files { cert: PathBuf, key: PathBuf },
}

/// The keys `--apply` signs with.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// A cosign key reference: a file, or a KMS URI (`awskms://…`, `gcpkms://…`, `azurekms://…`,
    /// `hashivault://…`, `k8s://…`), passed to cosign as it is.
    pub cosign: Option<String>,
    pub notation: Option<NotationKey>,
    /// `--cosign-format`, as `migrate` takes it (one enum, one default: both).
    pub cosign_format: Option<CosignFormat>,
}

/// A Notation key resolved to its files.
#[derive(Debug, Clone)]
pub(super) struct NotationFiles {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
    pub(super) label: String,
}

impl Keys {
    pub fn is_empty(&self) -> bool {
        self.cosign.is_none() && self.notation.is_none()
    }

    pub(super) fn format(&self) -> CosignFormat {
        self.cosign_format.unwrap_or(CosignFormat::Both)
    }

    /// The formats `--apply` writes: cosign's (as `--cosign-format` says) with a cosign key,
    /// Notation's with a Notation key.
    pub(super) fn wanted(&self) -> Vec<Format> {
        let mut f = Vec::new();
        if self.cosign.is_some() {
            f.extend(self.format().formats());
        }
        if self.notation.is_some() {
            f.push(Format::Notation);
        }
        f
    }

    pub(super) fn cosign_is_file(&self) -> bool {
        self.cosign.as_deref().is_some_and(|r| !r.contains("://"))
    }

    pub(super) fn notation_files(&self) -> Result<Option<NotationFiles>> {
        match &self.notation {
            None => Ok(None),
            Some(NotationKey::Files { cert, key }) => Ok(Some(NotationFiles {
                cert: cert.clone(),
                key: key.clone(),
                label: format!("certificate {}", cert.display()),
            })),
            Some(NotationKey::Named { name, config }) => {
                let file = config.join("signingkeys.json");
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading Notation's key list {}", file.display()))?;
                let v: serde_json::Value =
                    serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
                let entry = v["keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|k| k["name"] == name.as_str())
                    .with_context(|| format!("{} has no key named {name}", file.display()))?;
                let (Some(key), Some(cert)) = (entry["keyPath"].as_str(), entry["certPath"].as_str()) else {
                    bail!("Notation key {name} is a plugin key ({}): only keys with a keyPath and certPath can be used here", entry["plugin"]["name"].as_str().or(entry["pluginName"].as_str()).unwrap_or("?"));
                };
                Ok(Some(NotationFiles {
                    cert: cert.into(),
                    key: key.into(),
                    label: format!("key {name} ({})", file.display()),
                }))
            }
        }
    }

    /// What the plan says would sign: each key, and the certificate's subject and fingerprint.
    pub fn describe(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if let Some(c) = &self.cosign {
            let formats = match self.format() {
                CosignFormat::Both => "both formats: bundle and the legacy .sig tag",
                CosignFormat::Bundle => "the bundle format",
                CosignFormat::Legacy => "the legacy .sig tag",
            };
            out.push(format!("cosign key {c} ({formats})"));
        }
        if let Some(n) = self.notation_files()? {
            let (subject, fingerprint) = certificate_facts(&n.cert)?;
            out.push(format!("Notation {}: {subject}, SHA-256 fingerprint {fingerprint}", n.label));
        }
        Ok(out)
    }
}

/// The leaf certificate's subject and SHA-256 fingerprint (what `notation cert ls` shows).
fn certificate_facts(path: &Path) -> Result<(String, String)> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = util::x509::pem_certificate(&pem).with_context(|| path.display().to_string())?;
    let cert = util::x509::parse(&der).with_context(|| format!("{} is not a certificate", path.display()))?;
    let subject = util::x509::name_to_string(&cert.subject).with_context(|| path.display().to_string())?;
    Ok((subject, util::hex(&<sha2::Sha256 as sha2::Digest>::digest(&der))))
}

/// The last certificate of a PEM chain file (the root, for Notation's trust store).
pub(super) fn last_certificate(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let begin = text
        .rfind("-----BEGIN CERTIFICATE-----")
        .with_context(|| format!("{} holds no certificate", path.display()))?;
    Ok(text[begin..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_say_what_would_sign() {
        let dir = tempfile::tempdir().unwrap();
        let (subject, _) = crate::migrate::signers::ensure_notation_cert(dir.path(), "k1").unwrap();
        let keys = Keys {
            cosign: Some("awskms:///alias/x".into()),
            notation: Some(NotationKey::Files {
                cert: dir.path().join("notation.crt"),
                key: dir.path().join("notation.key"),
            }),
            cosign_format: None,
        };
        let d = keys.describe().unwrap();
        assert!(d[0].contains("awskms:///alias/x") && d[0].contains("both formats"), "{d:?}");
        assert!(d[1].contains("CN=trust-sandbox notation k1") && d[1].contains("fingerprint"), "{d:?} {subject}");
        assert!(!keys.cosign_is_file());
        // `--cosign-format` as `migrate` takes it: both by default, one when asked.
        use crate::migrate::signing::Format::*;
        assert_eq!(keys.wanted(), [CosignBundle, CosignLegacy, Notation]);
        let legacy = Keys { cosign_format: Some(CosignFormat::Legacy), notation: None, ..keys.clone() };
        assert_eq!(legacy.wanted(), [CosignLegacy]);
        assert!(legacy.describe().unwrap()[0].contains("the legacy .sig tag"));
        // By name, from a Notation configuration.
        let conf = dir.path().join("notation");
        std::fs::create_dir_all(&conf).unwrap();
        let list = serde_json::json!({"keys": [{"name": "prod", "keyPath": dir.path().join("notation.key"), "certPath": dir.path().join("notation.crt")},
                                               {"name": "hsm", "id": "x", "pluginName": "com.example.hsm"}]});
        std::fs::write(conf.join("signingkeys.json"), list.to_string()).unwrap();
        let named = |n: &str| Keys {
            notation: Some(NotationKey::Named { name: n.into(), config: conf.clone() }),
            ..Keys::default()
        };
        assert!(named("prod").describe().unwrap()[0].contains("key prod"));
        assert!(named("hsm").describe().unwrap_err().to_string().contains("plugin key"));
        assert!(named("none").describe().unwrap_err().to_string().contains("no key named none"));
        assert!(last_certificate(&dir.path().join("notation.crt")).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
