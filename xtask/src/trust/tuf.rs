//! TUF metadata as Notary v1 writes it, read with serde types of our own. The field names and
//! the key-ID rule are the facts of notary's `tuf/data` package: a metadata file is
//! `{"signed": {...}, "signatures": [{"keyid", "method", "sig"}]}`; `signed` has `_type`,
//! `expires` (RFC 3339) and `version`; root lists `keys` and `roles` (`keyids`, `threshold`);
//! targets lists `targets` (name → `length`, `hashes`) and `delegations` (`keys`, `roles` with
//! `name`, `keyids`, `threshold`, `paths`); snapshot and timestamp list `meta`. A key's ID is the
//! SHA-256 of the canonical JSON `{"keytype":…,"keyval":{"private":null,"public":…}}`.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

#[derive(Debug, Clone, Deserialize)]
pub struct FileMeta {
    pub length: u64,
    /// Algorithm → base64 digest.
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}

impl FileMeta {
    /// `sha256:<hex>`, as registries name manifests.
    pub fn digest(&self) -> Option<String> {
        let raw = base64::engine::general_purpose::STANDARD.decode(self.hashes.get("sha256")?).ok()?;
        Some(format!("sha256:{}", crate::util::hex(&raw)))
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
        "root" => "Root",
        "snapshot" => "Snapshot",
        "timestamp" => "Timestamp",
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

/// A key's ID as notary computes it: SHA-256 of its canonical JSON with no private part.
pub fn key_id(key: &Key) -> String {
    // Field order is canonical (sorted) order; serde_json writes no spaces, as canonical JSON.
    #[derive(Serialize)]
    struct Canonical<'a> {
        keytype: &'a str,
        keyval: CanonicalVal<'a>,
    }
    #[derive(Serialize)]
    struct CanonicalVal<'a> {
        private: Option<()>,
        public: &'a str,
    }
    let c = Canonical { keytype: &key.keytype, keyval: CanonicalVal { private: None, public: &key.keyval.public } };
    let json = serde_json::to_vec(&c).expect("plain strings serialise");
    crate::util::hex(&Sha256::digest(&json))
}

/// The IDs a key is known by. A root key is listed as a certificate (`ecdsa-x509`); its private
/// half is stored under the ID of the bare public key inside that certificate (notary's
/// canonical key ID), so both are returned.
pub fn key_ids(listed_id: &str, key: &Key) -> Vec<String> {
    let mut ids = vec![listed_id.to_string()];
    if let Some(bare) = certificate_key(key) {
        let id = key_id(&bare);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The bare public key inside an `-x509` key's certificate.
fn certificate_key(key: &Key) -> Option<Key> {
    let keytype = key.keytype.strip_suffix("-x509")?;
    let pem = base64::engine::general_purpose::STANDARD.decode(&key.keyval.public).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    let spki = base64::engine::general_purpose::STANDARD.encode(cert.public_key().raw);
    Some(Key { keytype: keytype.to_string(), keyval: KeyVal { public: spki } })
}

/// An RFC 3339 time (notary writes nanoseconds).
pub fn parse_time(text: &str) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("`{text}` is not an RFC 3339 time"))
}

/// "expires in 13 days", "expired 2 days ago": how far `expires` is from `now`.
pub fn relative_expiry(expires: time::OffsetDateTime, now: time::OffsetDateTime) -> (String, bool) {
    let secs = (expires - now).whole_seconds();
    let span = human_span(secs.unsigned_abs());
    if secs >= 0 {
        (format!("expires in {span}"), false)
    } else {
        (format!("expired {span} ago"), true)
    }
}

fn human_span(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    const DAY: u64 = 86_400;
    match secs {
        s if s < 3_600 => plural(s.div_ceil(60).max(1), "minute"),
        s if s < 2 * DAY => plural(s / 3_600, "hour"),
        s if s < 730 * DAY => plural(s / DAY, "day"),
        s => plural((s + 182 * DAY) / (365 * DAY), "year"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_follow_notarys_canonical_json() {
        let key = Key { keytype: "ecdsa".into(), keyval: KeyVal { public: "AAEC".into() } };
        // sha256 of {"keytype":"ecdsa","keyval":{"private":null,"public":"AAEC"}}
        let json = br#"{"keytype":"ecdsa","keyval":{"private":null,"public":"AAEC"}}"#;
        assert_eq!(key_id(&key), crate::util::hex(&Sha256::digest(json)));
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
        let ids = key_ids(&key_id(&x509), &x509);
        assert_eq!(ids, [key_id(&x509), key_id(&bare)]);
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

    #[test]
    fn expiry_reads_as_people_say_it() {
        let now = parse_time("2026-12-07T12:00:00Z").unwrap();
        let at = |s: &str| relative_expiry(parse_time(s).unwrap(), now);
        assert_eq!(at("2026-12-20T12:00:00.5Z"), ("expires in 13 days".into(), false));
        assert_eq!(at("2026-12-05T11:00:00Z"), ("expired 2 days ago".into(), true));
        assert_eq!(at("2026-12-07T15:30:00Z"), ("expires in 3 hours".into(), false));
        assert_eq!(at("2026-12-07T12:00:30Z"), ("expires in 1 minute".into(), false));
        assert_eq!(at("2036-12-04T13:59:48.481854621Z"), ("expires in 10 years".into(), false));
        assert_eq!(at("2029-12-06T12:00:00Z"), ("expires in 3 years".into(), false));
    }
}
