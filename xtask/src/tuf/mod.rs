//! TUF metadata as Notary v1 writes it: the one model every reader here shares (`trust show`'s
//! view and `migrate --from`'s verifier). The field names and the key-ID rule are the facts of
//! notary's `tuf/data` package: a metadata file is `{"signed": {...}, "signatures": [{"keyid",
//! "method", "sig"}]}`; `signed` has `_type`, `expires` (RFC 3339) and `version`; root lists
//! `keys` and `roles` (`keyids`, `threshold`); targets lists `targets` (name → `length`,
//! `hashes`) and `delegations` (`keys`, `roles` with `name`, `keyids`, `threshold`, `paths`);
//! snapshot and timestamp list `meta`. A key's ID is the SHA-256 of the canonical JSON
//! ([`canonical`]) of `{"keytype":…,"keyval":{"private":null,"public":…}}`.
//!
//! [`verify`] holds a repository's files to it as a Notary client does.

pub mod canonical;
pub mod verify;

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The roles every repository has; delegations are `targets/<name>`.
pub const ROOT: &str = "root";
pub const TARGETS: &str = "targets";
pub const SNAPSHOT: &str = "snapshot";
pub const TIMESTAMP: &str = "timestamp";
/// The four top-level roles, in the order a client walks them to trust a tag.
pub const TOP_ROLES: [&str; 4] = [ROOT, TARGETS, SNAPSHOT, TIMESTAMP];
/// Where `docker trust signer add` puts its signers, and where a trusted pull looks first.
pub const RELEASES: &str = "targets/releases";
/// notary.MaxTimestampSize: a timestamp longer than this is refused before it is parsed.
pub const MAX_TIMESTAMP: u64 = 1 << 20;
/// Notary's own cap on any metadata download (notary.MaxDownloadSize); root has no recorded
/// length, so it is read up to this.
pub const MAX_DOWNLOAD: u64 = 100 << 20;

/// One metadata file: what was signed, and by which keys.
#[derive(Debug, Clone, Deserialize)]
pub struct Signed {
    pub signed: Body,
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Signature {
    pub keyid: String,
}

/// The signed part of any role's file; the fields a role does not use stay empty.
#[derive(Debug, Clone, Deserialize)]
pub struct Body {
    #[serde(rename = "_type")]
    pub kind: String,
    pub expires: String,
    pub version: u64,
    /// Root: every key of the top-level roles, by ID.
    #[serde(default)]
    pub keys: BTreeMap<String, Key>,
    /// Root: each top-level role's keys and threshold.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleKeys>,
    /// Targets and delegations: the signed names (tags) and what they point to.
    #[serde(default)]
    pub targets: BTreeMap<String, FileMeta>,
    #[serde(default)]
    pub delegations: Option<Delegations>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Key {
    pub keytype: String,
    pub keyval: KeyVal,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct KeyVal {
    /// Base64: a DER public key, or for the `-x509` types a PEM certificate.
    pub public: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleKeys {
    /// Notary writes `null` for a role left without keys (a removed delegation's last signer).
    #[serde(default)]
    pub keyids: Option<Vec<String>>,
    pub threshold: u32,
}

/// The length and hashes of a file: a target (tag → manifest) or, in snapshot and timestamp
/// `meta`, another role's file.
#[derive(Debug, Clone, Deserialize)]
pub struct FileMeta {
    pub length: u64,
    /// Algorithm → base64 digest.
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}

impl FileMeta {
    /// The decoded digest by `alg` (`sha256`, `sha512`), if listed and base64.
    pub fn hash(&self, alg: &str) -> Option<Vec<u8>> {
        B64.decode(self.hashes.get(alg)?).ok()
    }

    /// `sha256:<hex>`, as registries name manifests.
    pub fn digest(&self) -> Option<String> {
        Some(format!("sha256:{}", crate::util::hex(&self.hash("sha256")?)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Delegations {
    #[serde(default)]
    pub keys: BTreeMap<String, Key>,
    #[serde(default)]
    pub roles: Vec<DelegatedRole>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DelegatedRole {
    pub name: String,
    #[serde(default)]
    pub keyids: Option<Vec<String>>,
    pub threshold: u32,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}

/// The `_type` each role's file must carry (delegations are targets files).
pub fn expected_type(role: &str) -> &'static str {
    match role {
        ROOT => "Root",
        SNAPSHOT => "Snapshot",
        TIMESTAMP => "Timestamp",
        _ => "Targets",
    }
}

/// Parses one role's file and checks its `_type`.
pub fn parse(role: &str, bytes: &[u8]) -> Result<Signed> {
    let file: Signed = serde_json::from_slice(bytes).with_context(|| format!("{role}.json is not TUF metadata"))?;
    let want = expected_type(role);
    if file.signed.kind != want {
        bail!("{role}.json says _type {:?}, not {want:?}", file.signed.kind);
    }
    Ok(file)
}

impl Key {
    /// notary's `TUFKey.ID()`: SHA-256 of the canonical JSON of the key with no private part.
    pub fn id(&self) -> String {
        let form = serde_json::json!({
            "keytype": self.keytype,
            "keyval": {"private": null, "public": self.keyval.public},
        });
        crate::util::hex(&Sha256::digest(canonical::encode(&form).expect("no numbers in a key")))
    }

    /// The decoded `keyval.public`: DER, or for the `-x509` types a PEM certificate.
    pub fn public(&self) -> Result<Vec<u8>> {
        B64.decode(&self.keyval.public).context("the public part is not base64")
    }

    /// For an `-x509` key, its certificate; `None` for a bare key.
    pub fn certificate(&self) -> Result<Option<crate::util::x509::Certificate>> {
        if !self.keytype.ends_with("-x509") {
            return Ok(None);
        }
        let der = crate::util::x509::pem_certificate(&self.public()?)?;
        Ok(Some(crate::util::x509::parse(&der)?))
    }

    /// The bare public key inside an `-x509` key's certificate; `None` for a bare key.
    pub fn certificate_key(&self) -> Result<Option<Key>> {
        let spki = self.certificate()?.map(|c| B64.encode(c.spki));
        Ok(spki.map(|public| Key {
            keytype: self.keytype.trim_end_matches("-x509").to_string(),
            keyval: KeyVal { public },
        }))
    }

    /// notary's canonical key ID: the ID of the bare public key (`ecdsa`, `rsa`) for a
    /// certificate key, what `notary key list` prints for a root key (and the ID its private
    /// half is stored under).
    pub fn canonical_id(&self) -> Result<String> {
        Ok(self.certificate_key()?.unwrap_or_else(|| self.clone()).id())
    }
}

/// The IDs a key is known by. A root key is listed as a certificate (`ecdsa-x509`); its private
/// half is stored under the ID of the bare public key inside that certificate (notary's
/// canonical key ID), so both are returned.
pub fn key_ids(listed_id: &str, key: &Key) -> Vec<String> {
    let mut ids = vec![listed_id.to_string()];
    if let Ok(Some(bare)) = key.certificate_key() {
        let id = bare.id();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The first 12 characters of a key ID, as notary prints them.
pub fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

/// An RFC 3339 time (notary writes nanoseconds).
pub fn parse_time(text: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("`{text}` is not an RFC 3339 time"))
}

/// RFC 3339 to the second, UTC: how reports write a role's or certificate's expiry.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0).unwrap_or(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_follow_notarys_canonical_json() {
        let key = Key { keytype: "ecdsa".into(), keyval: KeyVal { public: "AAEC".into() } };
        // sha256 of {"keytype":"ecdsa","keyval":{"private":null,"public":"AAEC"}}
        let json = br#"{"keytype":"ecdsa","keyval":{"private":null,"public":"AAEC"}}"#;
        assert_eq!(key.id(), crate::util::hex(&Sha256::digest(json)));
        assert_eq!(key_ids("listed", &key), ["listed"], "a bare key has one ID");
    }

    #[test]
    fn a_certificate_key_is_also_known_by_its_bare_keys_id() {
        // A self-signed P-256 certificate, as notary lists a root key.
        let kp = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["gun".into()]).unwrap().self_signed(&kp).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let x509 = Key { keytype: "ecdsa-x509".into(), keyval: KeyVal { public: b64.encode(cert.pem()) } };
        let bare = Key {
            keytype: "ecdsa".into(),
            keyval: KeyVal { public: b64.encode(rcgen::PublicKeyData::subject_public_key_info(&kp)) },
        };
        let ids = key_ids(&x509.id(), &x509);
        assert_eq!(ids, [x509.id(), bare.id()]);
        assert_eq!(x509.canonical_id().unwrap(), bare.id());
    }

    #[test]
    fn files_parse_and_their_type_is_checked() {
        let json = br#"{"signed":{"_type":"Targets","expires":"2029-12-06T13:59:50.573963524Z","version":4,
            "delegations":{"keys":{},"roles":[{"keyids":null,"name":"targets/releases","paths":[""],"threshold":1}]},
            "targets":{"owner":{"hashes":{"sha256":"a4Kmd2Qp8c8sgeh6DGRJ3d3HARgcp9TlbYlSUpMbvy0="},"length":523}}},
            "signatures":[{"keyid":"1b6b","method":"ecdsa","sig":"AA=="}]}"#;
        let f = parse("targets", json).unwrap();
        assert_eq!(f.signed.version, 4);
        assert_eq!(f.signatures[0].keyid, "1b6b");
        let d = f.signed.delegations.as_ref().unwrap();
        assert_eq!(d.roles[0].name, "targets/releases");
        assert!(d.roles[0].keyids.is_none());
        assert_eq!(
            f.signed.targets["owner"].digest().unwrap(),
            "sha256:6b82a6776429f1cf2c81e87a0c6449ddddc701181ca7d4e56d895252931bbf2d"
        );
        let err = parse("root", json).unwrap_err().to_string();
        assert!(err.contains("not \"Root\""), "{err}");
        assert!(parse("targets", b"{}").is_err());
    }
}
