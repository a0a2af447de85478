//! Notary's TUF metadata verified as a Notary client would, without the notary code: every
//! signature over the canonical form of `signed` ([`super::canonical`]), each role's threshold
//! of distinct valid keys, key IDs ([`Key::id`]; notary's root keys are x509 certificates), the
//! snapshot and timestamp's lengths and hashes of the files they name, expiry, and a
//! delegation's paths.
//!
//! Key types and signature methods, as notary's `tuf/signed/verifiers.go` pairs them: `ecdsa`
//! (PKIX public key) and `ecdsa-x509` (a PEM certificate) with method `ecdsa` (r‖s over SHA-256;
//! P-256, the curve notary makes keys on); `rsa`/`rsa-x509` with `rsapss` (salt = hash length) or
//! `rsa-pkcs1v15`, at least 2048 bits; `ed25519` (raw 32 bytes) with `eddsa`. The signatures
//! are checked with ring (which rustls and rcgen already build on), so RSA keys are also held to
//! ring's upper bound of 8192 bits.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use time::OffsetDateTime;

use crate::util::x509;

use super::{
    canonical, expected_type, rfc3339, short_id, FileMeta, Key, KeyVal, B64, MAX_DOWNLOAD, MAX_TIMESTAMP, RELEASES,
    ROOT, SNAPSHOT, TARGETS, TIMESTAMP,
};

/// One signed metadata file: its bytes as served, and its parts.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub raw: Vec<u8>,
    pub signed: Value,
    signatures: Vec<Sig>,
}

#[derive(Debug, Clone, Deserialize)]
struct Sig {
    keyid: String,
    method: String,
    sig: String,
}

impl Envelope {
    pub fn parse(role: &str, raw: Vec<u8>) -> Result<Envelope> {
        #[derive(Deserialize)]
        struct Raw {
            signed: Value,
            #[serde(default)]
            signatures: Vec<Sig>,
        }
        let r: Raw = serde_json::from_slice(&raw).with_context(|| format!("{role}.json is not TUF metadata"))?;
        Ok(Envelope { raw, signed: r.signed, signatures: r.signatures })
    }

    pub fn version(&self) -> u64 {
        self.signed["version"].as_u64().unwrap_or(0)
    }

    pub fn expires(&self, role: &str) -> Result<OffsetDateTime> {
        let text = self.signed["expires"].as_str().with_context(|| format!("{role} has no expiry"))?;
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("{role}'s expiry {text:?} is not RFC 3339"))
    }

    fn check_type(&self, role: &str) -> Result<()> {
        let want = expected_type(role);
        let t = self.signed["_type"].as_str().unwrap_or("");
        if t != want {
            bail!("{role}.json has _type {t:?}, not {want:?}");
        }
        Ok(())
    }
}

/// A public key as ring takes it, with the algorithms notary pairs with its type.
enum Verifier {
    /// The uncompressed point.
    P256(Vec<u8>),
    /// The DER `RSAPublicKey`.
    Rsa(Vec<u8>),
    Ed25519(Vec<u8>),
}

const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];

/// A key as root or a delegations object lists it, checked as the verifier needs it: base64,
/// and for an x509 key a certificate.
fn parse_key(id: &str, v: &Value) -> Result<Key> {
    let keytype = v["keytype"].as_str().with_context(|| format!("key {id} has no keytype"))?.to_string();
    let public = v["keyval"]["public"].as_str().with_context(|| format!("key {id} has no public part"))?.to_string();
    let key = Key { keytype, keyval: KeyVal { public } };
    key.public().with_context(|| format!("key {id}'s public part is not base64"))?;
    key.certificate().map_err(|e| anyhow!("key {id}: {e}"))?;
    Ok(key)
}

impl Key {
    /// The DER SubjectPublicKeyInfo: the certificate's for x509 keys.
    fn spki(&self) -> Result<Vec<u8>> {
        match self.certificate()? {
            Some(cert) => Ok(cert.spki),
            None => self.public(),
        }
    }

    fn verifier(&self) -> Result<Verifier> {
        match self.keytype.as_str() {
            "ecdsa" | "ecdsa-x509" => {
                let pk = x509::public_key(&self.spki()?)?;
                let curve = pk.parameter.as_ref().map(|p| p.components().as_slice());
                if pk.algorithm.components().as_slice() != OID_EC_PUBLIC_KEY || curve != Some(OID_P256) {
                    bail!("not a P-256 public key ({}); notary makes P-256 keys", pk.algorithm);
                }
                Ok(Verifier::P256(pk.key))
            }
            "rsa" | "rsa-x509" => {
                let pk = x509::public_key(&self.spki()?)?;
                if pk.algorithm.components().as_slice() != OID_RSA {
                    bail!("not an RSA key ({})", pk.algorithm);
                }
                let bits = rsa_modulus_bits(&pk.key).context("not an RSA key")?;
                if bits < 2048 {
                    bail!("RSA keys under 2048 bits are refused, as notary does");
                }
                // ring's limit; notary makes P-256 keys, and RSA keys are 2048 or 4096 bits.
                if bits > 8192 {
                    bail!("RSA keys over 8192 bits are not verified here");
                }
                Ok(Verifier::Rsa(pk.key))
            }
            "ed25519" => {
                let bytes = self.public()?;
                if bytes.len() != 32 {
                    bail!("an ed25519 key is 32 bytes");
                }
                Ok(Verifier::Ed25519(bytes))
            }
            other => bail!("key type {other} is not one notary uses"),
        }
    }

    /// Whether `sig` (decoded) by `method` verifies `msg` with this key.
    fn verifies(&self, method: &str, sig: &[u8], msg: &[u8]) -> Result<bool> {
        use ring::signature as s;
        let (key, algorithm): (Vec<u8>, &dyn s::VerificationAlgorithm) = match (self.verifier()?, method) {
            (Verifier::P256(k), "ecdsa") => (k, &s::ECDSA_P256_SHA256_FIXED),
            (Verifier::Rsa(k), "rsapss") => (k, &s::RSA_PSS_2048_8192_SHA256),
            (Verifier::Rsa(k), "rsa-pkcs1v15") => (k, &s::RSA_PKCS1_2048_8192_SHA256),
            (Verifier::Ed25519(k), "eddsa") => (k, &s::ED25519),
            _ => return Ok(false),
        };
        Ok(s::UnparsedPublicKey::new(algorithm, key).verify(msg, sig).is_ok())
    }
}

/// The bit length of an `RSAPublicKey`'s modulus.
fn rsa_modulus_bits(der: &[u8]) -> Result<usize> {
    let (n, _) = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let n = r.next().read_bigint_bytes()?;
            r.next().read_der()?; // publicExponent
            Ok(n)
        })
    })
    .map_err(|e| anyhow!("{e}"))?;
    let n = n.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
    Ok(n.first().map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize))
}

/// A role as the verifier holds it: its name, its keys and threshold (as root or a delegating
/// targets file states them) and, for a delegation, what it may sign.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub keyids: Vec<String>,
    pub threshold: usize,
    /// Delegations only: the target names the role may sign (prefixes), or hash prefixes.
    pub paths: Option<Vec<String>>,
    pub path_hash_prefixes: Option<Vec<String>>,
}

impl Role {
    fn parse(name: &str, v: &Value) -> Result<Role> {
        // A delegation whose last key was removed lists none (or null): nothing can sign it.
        let keyids =
            v["keyids"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
        let threshold = v["threshold"].as_u64().unwrap_or(0) as usize;
        if threshold < 1 {
            bail!("role {name} has threshold {threshold}: it must be at least 1");
        }
        let strings =
            |f: &str| v[f].as_array().map(|a| a.iter().filter_map(|p| p.as_str().map(String::from)).collect());
        Ok(Role {
            name: name.into(),
            keyids,
            threshold,
            paths: strings("paths"),
            path_hash_prefixes: strings("path_hash_prefixes"),
        })
    }

    /// notary's delegation rule: a target belongs to a role whose paths prefix its name (or
    /// whose hash prefixes prefix the hex SHA-256 of its name).
    pub fn allows(&self, target: &str) -> bool {
        if let Some(paths) = &self.paths {
            if paths.iter().any(|p| target.starts_with(p.as_str())) {
                return true;
            }
        }
        if let Some(prefixes) = &self.path_hash_prefixes {
            let h = crate::util::hex(&Sha256::digest(target.as_bytes()));
            return prefixes.iter().any(|p| h.starts_with(p.as_str()));
        }
        false
    }
}

/// The key IDs among `env`'s signatures that verify with `role`'s keys; an error below the
/// threshold (counting each key once, as notary does).
pub fn verify_signatures(env: &Envelope, keys: &BTreeMap<String, Key>, role: &Role) -> Result<Vec<String>> {
    if env.signatures.is_empty() {
        bail!("{} has no signatures", role.name);
    }
    let msg = canonical::encode(&env.signed).with_context(|| format!("{} cannot be canonicalised", role.name))?;
    let mut valid: Vec<String> = Vec::new();
    for s in &env.signatures {
        if !role.keyids.contains(&s.keyid) || valid.contains(&s.keyid) {
            continue;
        }
        let Some(key) = keys.get(&s.keyid) else { continue };
        let Ok(sig) = B64.decode(&s.sig) else { continue };
        if key.verifies(&s.method, &sig, &msg).unwrap_or(false) {
            valid.push(s.keyid.clone());
        }
    }
    if valid.len() < role.threshold {
        let keys = match role.keyids.is_empty() {
            true => "the role lists no keys".to_string(),
            false => format!("keys {}", role.keyids.iter().map(|k| short_id(k)).collect::<Vec<_>>().join(", ")),
        };
        bail!(
            "valid signatures did not meet the threshold for {}: {} of {} ({keys})",
            role.name,
            valid.len(),
            role.threshold
        );
    }
    Ok(valid)
}

/// `keys` of a root or delegations object, each checked against its ID.
fn parse_keys(v: &Value, whose: &str) -> Result<BTreeMap<String, Key>> {
    let mut out = BTreeMap::new();
    for (id, k) in v.as_object().into_iter().flatten() {
        let key = parse_key(id, k)?;
        let computed = key.id();
        if &computed != id {
            bail!(
                "{whose} lists key {} whose content hashes to {}: the key ID does not match the key",
                short_id(id),
                short_id(&computed)
            );
        }
        out.insert(id.clone(), key);
    }
    Ok(out)
}

impl FileMeta {
    /// A file's entry in a snapshot, timestamp or targets file, held to what the verifier
    /// needs: a length, and hashes that are base64.
    fn parse(name: &str, v: &Value) -> Result<FileMeta> {
        let length = v["length"].as_u64().with_context(|| format!("{name}: no length"))?;
        let mut hashes = BTreeMap::new();
        for (alg, h) in v["hashes"].as_object().with_context(|| format!("{name}: no hashes"))? {
            let h = h.as_str().unwrap_or("");
            B64.decode(h).with_context(|| format!("{name}: {alg} hash is not base64"))?;
            hashes.insert(alg.clone(), h.to_string());
        }
        Ok(FileMeta { length, hashes })
    }

    /// The bytes match: exact length, and every hash notary knows (sha256, sha512) that is given.
    pub fn check(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 != self.length {
            bail!("{name} is {} bytes; the metadata that names it says {}", bytes.len(), self.length);
        }
        let mut checked = 0;
        for alg in self.hashes.keys() {
            let want = self.hash(alg).unwrap_or_default();
            let got = match alg.as_str() {
                "sha256" => Sha256::digest(bytes).to_vec(),
                "sha512" => Sha512::digest(bytes).to_vec(),
                _ => continue,
            };
            if got != want {
                bail!("{alg} checksum for {name} did not match");
            }
            checked += 1;
        }
        if checked == 0 {
            bail!("{name} is named without a sha256 or sha512 hash");
        }
        Ok(())
    }
}

/// One role as verified: what the plan and the evidence report say about it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleState {
    pub role: String,
    pub version: u64,
    pub expires: String,
    /// Expired at the time the plan judged it (`at`).
    pub expired: bool,
    pub length: usize,
    pub sha256: String,
    /// The key IDs whose signatures verified.
    pub signed_by: Vec<String>,
    /// A delegation a DCT client skips (its signatures miss the threshold, or it expired): why.
    /// Its tags are not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A target (tag) one role signs: the digest of the manifest, its length.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub role: String,
    /// `sha256:<hex>` (the manifest's digest).
    pub digest: String,
    pub length: u64,
}

/// Everything a repository's trust data says, every check passed (expiry is reported in
/// `roles`, not refused: the plan says it, and `--apply` decides).
#[derive(Debug, Clone)]
pub struct Verified {
    pub roles: Vec<RoleState>,
    /// The root role's key IDs (certificate key IDs, as notary names them).
    pub root_key_ids: Vec<String>,
    /// The root keys' canonical IDs (of the public key alone, without the certificate), as
    /// `notary key list` shows them.
    pub root_canonical_key_ids: Vec<String>,
    /// Certificates among the root keys, with their expiry.
    pub root_cert_expiry: Vec<(String, String, bool)>,
    pub targets: Vec<Target>,
    /// Delegation names (`targets/<name>`, not releases) whose keys signed each role: how
    /// `docker trust inspect` names signers.
    pub signer_names: BTreeMap<String, Vec<String>>,
    /// The files as served, by role, for the archive.
    pub files: Vec<(String, Vec<u8>)>,
    /// Findings that do not invalidate the data (a delegation with no metadata yet).
    pub notes: Vec<String>,
}

impl Verified {
    /// The roles that have expired and that a DCT client cannot skip (a delegation it can).
    pub fn expired(&self) -> Vec<&RoleState> {
        self.roles.iter().filter(|r| r.expired && r.skipped.is_none()).collect()
    }
}

/// Where the metadata comes from: the Notary server, or an archive. `Ok(None)`: no such file.
pub trait Source {
    fn fetch(&mut self, role: &str, limit: u64) -> Result<Option<Vec<u8>>>;
}

/// What a repository without trust data looks like to [`verify`].
#[derive(Debug)]
pub struct NoTrustData;

impl std::fmt::Display for NoTrustData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no trust data (the Notary server has no root.json for it)")
    }
}

impl std::error::Error for NoTrustData {}

fn role_state(role: &str, env: &Envelope, signed_by: Vec<String>, at: OffsetDateTime) -> Result<RoleState> {
    let expires = env.expires(role)?;
    Ok(RoleState {
        role: role.to_string(),
        version: env.version(),
        expires: rfc3339(expires),
        expired: expires <= at,
        length: env.raw.len(),
        sha256: crate::util::hex(&Sha256::digest(&env.raw)),
        signed_by,
        skipped: None,
    })
}

/// Reads and verifies a repository's trust data as a first-time Notary client would (trusting
/// the root it is served, then holding every other role to it); expiry judged at `at`.
pub fn verify(src: &mut dyn Source, at: OffsetDateTime) -> Result<Verified> {
    let root_raw = src.fetch(ROOT, MAX_DOWNLOAD)?.ok_or(NoTrustData)?;
    let root = Envelope::parse(ROOT, root_raw)?;
    root.check_type(ROOT)?;
    let keys = parse_keys(&root.signed["keys"], "root.json")?;
    let role_keys = |name: &str| -> Result<Role> {
        Role::parse(name, &root.signed["roles"][name]).with_context(|| format!("root.json has no usable {name} role"))
    };
    let root_role = role_keys(ROOT)?;
    let root_signers = verify_signatures(&root, &keys, &root_role).context("root.json")?;
    let mut root_cert_expiry = Vec::new();
    for id in &root_role.keyids {
        let validity = keys.get(id).and_then(|k| k.certificate().ok()?.map(|c| (c.not_before, c.not_after)));
        if let Some((not_before, not_after)) = validity {
            let valid = not_after > at && not_before <= at;
            root_cert_expiry.push((id.clone(), rfc3339(not_after), !valid));
        }
    }
    let mut roles = vec![role_state(ROOT, &root, root_signers, at)?];
    let mut files = vec![(ROOT.to_string(), root.raw.clone())];

    let ts_raw = src.fetch(TIMESTAMP, MAX_TIMESTAMP)?.context("the server has root.json but no timestamp.json")?;
    let ts = Envelope::parse(TIMESTAMP, ts_raw)?;
    ts.check_type(TIMESTAMP)?;
    let ts_signers = verify_signatures(&ts, &keys, &role_keys(TIMESTAMP)?).context("timestamp.json")?;
    let snap_meta = FileMeta::parse("snapshot", &ts.signed["meta"][SNAPSHOT]).context("timestamp.json")?;

    let snap_raw = src.fetch(SNAPSHOT, snap_meta.length)?.context("the server has no snapshot.json")?;
    snap_meta.check("snapshot.json", &snap_raw)?;
    let snap = Envelope::parse(SNAPSHOT, snap_raw)?;
    snap.check_type(SNAPSHOT)?;
    let snap_signers = verify_signatures(&snap, &keys, &role_keys(SNAPSHOT)?).context("snapshot.json")?;
    let meta = |name: &str| -> Result<Option<FileMeta>> {
        match snap.signed["meta"].get(name) {
            Some(v) => FileMeta::parse(name, v).map(Some),
            None => Ok(None),
        }
    };
    if let Some(m) = meta(ROOT)? {
        m.check("root.json (as the snapshot names it)", &root.raw)?;
    }

    let targets_meta = meta(TARGETS)?.context("snapshot.json does not name targets")?;
    let targets_raw = src.fetch(TARGETS, targets_meta.length)?.context("the server has no targets.json")?;
    targets_meta.check("targets.json", &targets_raw)?;
    let targets = Envelope::parse(TARGETS, targets_raw)?;
    targets.check_type(TARGETS)?;
    let targets_signers = verify_signatures(&targets, &keys, &role_keys(TARGETS)?).context("targets.json")?;
    let mut found = collect_targets(TARGETS, &targets, &[])?;
    roles.push(role_state(TARGETS, &targets, targets_signers, at)?);
    files.push((TARGETS.to_string(), targets.raw.clone()));

    // Delegations, breadth first; each held to its delegator's keys and every ancestor's paths.
    let mut notes = Vec::new();
    let mut signed_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut delegated: Vec<Role> = Vec::new();
    let mut queue: std::collections::VecDeque<(Envelope, Vec<Role>)> = [(targets, Vec::new())].into();
    while let Some((parent, ancestry)) = queue.pop_front() {
        let dkeys = parse_keys(&parent.signed["delegations"]["keys"], "a delegations object")?;
        for r in parent.signed["delegations"]["roles"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().context("a delegation without a name")?.to_string();
            if !name.starts_with("targets/") {
                bail!("delegation {name:?} is not under targets/");
            }
            let rk = Role::parse(&name, r)?;
            let Some(m) = meta(&name)? else {
                notes.push(format!("{name} is delegated but has no metadata yet (it signs nothing)"));
                delegated.push(rk);
                continue;
            };
            let raw = src
                .fetch(&name, m.length)?
                .with_context(|| format!("the snapshot names {name}, the server has no such file"))?;
            m.check(&format!("{name}.json"), &raw)?;
            let env = Envelope::parse(&name, raw)?;
            env.check_type(&name)?;
            files.push((name.clone(), env.raw.clone()));
            // As notary's client does: a delegation whose signatures miss its threshold, or that
            // has expired, is skipped with a warning; its tags are not trusted.
            let verdict = verify_signatures(&env, &dkeys, &rk).with_context(|| format!("{name}.json"));
            let mut state = role_state(&name, &env, verdict.as_ref().cloned().unwrap_or_default(), at)?;
            let skip = match &verdict {
                Err(e) => Some(format!("{e:#}")),
                Ok(_) if state.expired => Some(format!("expired at {}", state.expires)),
                Ok(_) => None,
            };
            if let Some(why) = skip {
                notes.push(format!("{name} is skipped, as a DCT client skips it ({why}): its tags are not trusted"));
                state.skipped = Some(why);
                roles.push(state);
                delegated.push(rk);
                continue;
            }
            let signers = verdict?;
            let mut chain = ancestry.clone();
            chain.push(rk.clone());
            found.extend(collect_targets(&name, &env, &chain)?);
            signed_by.insert(name.clone(), signers);
            roles.push(state);
            delegated.push(rk);
            queue.push_back((env, chain));
        }
    }
    roles.push(role_state(SNAPSHOT, &snap, snap_signers, at)?);
    files.push((SNAPSHOT.to_string(), snap.raw.clone()));
    roles.push(role_state(TIMESTAMP, &ts, ts_signers, at)?);
    files.push((TIMESTAMP.to_string(), ts.raw.clone()));

    // `docker trust inspect` names a signer by the delegation whose key signed: alice's key
    // signs targets/releases, and targets/alice holds the same key.
    let mut signer_names = BTreeMap::new();
    for (role, keyids) in &signed_by {
        let names: Vec<String> = delegated
            .iter()
            .filter(|d| d.name != *role && d.name != RELEASES && d.keyids.iter().any(|k| keyids.contains(k)))
            .map(|d| d.name.trim_start_matches("targets/").to_string())
            .collect();
        signer_names.insert(role.clone(), names);
    }
    let root_canonical_key_ids = root_role.keyids.iter().filter_map(|id| keys.get(id)?.canonical_id().ok()).collect();
    Ok(Verified {
        roles,
        root_key_ids: root_role.keyids,
        root_canonical_key_ids,
        root_cert_expiry,
        targets: found,
        signer_names,
        files,
        notes,
    })
}

/// The targets a role signs, each within its delegation chain's paths.
fn collect_targets(role: &str, env: &Envelope, chain: &[Role]) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for (name, v) in env.signed["targets"].as_object().into_iter().flatten() {
        if !chain.iter().all(|r| r.allows(name)) {
            continue;
        }
        let m = FileMeta::parse(name, v).with_context(|| format!("{role} target {name}"))?;
        let Some(sha) = m.hash("sha256") else { continue };
        out.push(Target {
            name: name.clone(),
            role: role.to_string(),
            digest: format!("sha256:{}", crate::util::hex(&sha)),
            length: m.length,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
