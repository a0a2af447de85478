//! The verifier against metadata made here the way notary lays it out: an x509 root key,
//! ECDSA P-256 role keys, a `targets/releases` delegation signed by alice (whose key is also
//! `targets/alice`), and every way a file can be wrong.

use std::collections::BTreeMap;

use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::*;

include!("rsa_vectors.rs");

struct K {
    sk: EcdsaKeyPair,
    json: Value,
    id: String,
}

/// A P-256 key pair as rcgen makes them, and ring's signer for it (r‖s, as notary signs).
fn p256() -> (rcgen::KeyPair, EcdsaKeyPair) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let sk = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &kp.serialize_der(), &rng).unwrap();
    (kp, sk)
}

/// A role key as notary's `ecdsa` keys are: the PKIX public key, base64.
fn ecdsa() -> K {
    let (kp, sk) = p256();
    key(sk, "ecdsa", &rcgen::PublicKeyData::subject_public_key_info(&kp))
}

/// A root key as notary's are: a self-signed certificate, its PEM base64-encoded.
fn x509(expired: bool) -> K {
    let (kp, sk) = p256();
    let mut params = rcgen::CertificateParams::new(vec!["example/app".into()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    (params.not_before, params.not_after) = match expired {
        true => (now - time::Duration::days(20), now - time::Duration::days(10)),
        false => (now - time::Duration::days(1), now + time::Duration::days(3650)),
    };
    let cert = params.self_signed(&kp).unwrap();
    key(sk, "ecdsa-x509", cert.pem().as_bytes())
}

fn key(sk: EcdsaKeyPair, keytype: &str, public: &[u8]) -> K {
    let json = json!({"keytype": keytype, "keyval": {"private": null, "public": B64.encode(public)}});
    let id = crate::util::hex(&Sha256::digest(canonical::encode(&json).unwrap()));
    K { sk, json, id }
}

/// `{"signed": …, "signatures": […]}` with each key's ECDSA r‖s over the canonical bytes.
fn sign(signed: &Value, keys: &[&K]) -> Vec<u8> {
    let msg = canonical::encode(signed).unwrap();
    let sigs: Vec<Value> = keys
        .iter()
        .map(|k| {
            let s = k.sk.sign(&ring::rand::SystemRandom::new(), &msg).unwrap();
            json!({"keyid": k.id, "method": "ecdsa", "sig": B64.encode(s.as_ref())})
        })
        .collect();
    // Pretty, not canonical: what is hashed is the bytes served, what is signed the canonical form.
    serde_json::to_vec_pretty(&json!({"signed": signed, "signatures": sigs})).unwrap()
}

fn meta(bytes: &[u8]) -> Value {
    json!({"length": bytes.len(), "hashes": {"sha256": B64.encode(Sha256::digest(bytes)), "sha512": B64.encode(Sha512::digest(bytes))}})
}

fn target(digest_byte: u8) -> Value {
    json!({"length": 523, "hashes": {"sha256": B64.encode([digest_byte; 32])}})
}

struct Keys {
    root: K,
    targets: K,
    snapshot: K,
    timestamp: K,
    alice: K,
}

fn keys() -> Keys {
    Keys { root: x509(false), targets: ecdsa(), snapshot: ecdsa(), timestamp: ecdsa(), alice: ecdsa() }
}

const FUTURE: &str = "2099-01-01T00:00:00Z";

/// Files by role, as a Notary server would serve them; `edit` changes a role's `signed` first.
fn repo(k: &Keys, edit: &dyn Fn(&str, &mut Value)) -> BTreeMap<String, Vec<u8>> {
    let role = |ids: &[&K]| json!({"keyids": ids.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), "threshold": 1});
    let mut root = json!({
        "_type": "Root", "consistent_snapshot": false, "expires": FUTURE, "version": 1,
        "keys": {k.root.id.clone(): k.root.json, k.targets.id.clone(): k.targets.json,
                 k.snapshot.id.clone(): k.snapshot.json, k.timestamp.id.clone(): k.timestamp.json},
        "roles": {"root": role(&[&k.root]), "targets": role(&[&k.targets]),
                  "snapshot": role(&[&k.snapshot]), "timestamp": role(&[&k.timestamp])},
    });
    edit("root", &mut root);
    let root_b = sign(&root, &[&k.root]);
    let mut releases = json!({"_type": "Targets", "expires": FUTURE, "version": 1,
        "targets": {"v2": target(0xbb)}, "delegations": {"keys": {}, "roles": []}});
    edit("targets/releases", &mut releases);
    let releases_b = sign(&releases, &[&k.alice]);
    let mut targets = json!({"_type": "Targets", "expires": FUTURE, "version": 3,
        "targets": {"latest": target(0xaa), "v2": target(0xcc)},
        "delegations": {"keys": {k.alice.id.clone(): k.alice.json},
            "roles": [{"name": "targets/releases", "keyids": [k.alice.id], "threshold": 1, "paths": [""]},
                      {"name": "targets/alice", "keyids": [k.alice.id], "threshold": 1, "paths": [""]}]}});
    edit("targets", &mut targets);
    let targets_b = sign(&targets, &[&k.targets]);
    let mut snapshot = json!({"_type": "Snapshot", "expires": FUTURE, "version": 3,
        "meta": {"root": meta(&root_b), "targets": meta(&targets_b), "targets/releases": meta(&releases_b)}});
    edit("snapshot", &mut snapshot);
    let snapshot_b = sign(&snapshot, &[&k.snapshot]);
    let mut timestamp =
        json!({"_type": "Timestamp", "expires": FUTURE, "version": 5, "meta": {"snapshot": meta(&snapshot_b)}});
    edit("timestamp", &mut timestamp);
    let timestamp_b = sign(&timestamp, &[&k.timestamp]);
    [
        ("root", root_b),
        ("targets", targets_b),
        ("targets/releases", releases_b),
        ("snapshot", snapshot_b),
        ("timestamp", timestamp_b),
    ]
    .into_iter()
    .map(|(r, b)| (r.to_string(), b))
    .collect()
}

struct Files(BTreeMap<String, Vec<u8>>);

impl Source for Files {
    fn fetch(&mut self, role: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let b = self.0.get(role).cloned();
        if b.as_ref().is_some_and(|b| b.len() as u64 > limit) {
            bail!("{role} is longer than {limit}");
        }
        Ok(b)
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn check(files: BTreeMap<String, Vec<u8>>) -> Result<Verified> {
    verify(&mut Files(files), now())
}

#[test]
fn a_repository_verifies_and_names_its_tags_roles_and_signers() {
    let k = keys();
    let v = check(repo(&k, &|_, _| {})).unwrap();
    let tags: Vec<(&str, &str, &str)> =
        v.targets.iter().map(|t| (t.name.as_str(), t.role.as_str(), &t.digest[7..11])).collect();
    assert_eq!(tags, [("latest", "targets", "aaaa"), ("v2", "targets", "cccc"), ("v2", "targets/releases", "bbbb")]);
    assert_eq!(v.root_key_ids, std::slice::from_ref(&k.root.id));
    assert_eq!(v.signer_names["targets/releases"], ["alice"], "named as docker trust inspect names signers");
    let roles: Vec<&str> = v.roles.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(roles, ["root", "targets", "targets/releases", "snapshot", "timestamp"]);
    assert_eq!(v.roles[4].version, 5);
    assert!(v.expired().is_empty() && v.root_cert_expiry.iter().all(|c| !c.2));
    assert_eq!(v.files.len(), 5);
    assert!(v.notes.iter().any(|n| n.contains("targets/alice is delegated but has no metadata")), "{:?}", v.notes);
    // The canonical root ID is the bare public key's, not the certificate's.
    assert_ne!(v.root_canonical_key_ids[0], v.root_key_ids[0]);
}

#[test]
fn a_flipped_byte_in_any_file_is_refused() {
    let k = keys();
    let good = repo(&k, &|_, _| {});
    for role in good.keys() {
        let mut files = good.clone();
        let f = files.get_mut(role).unwrap();
        // A byte inside a signature value or a hash: the JSON stays JSON.
        let at = String::from_utf8_lossy(f).find("\"sig\": \"").unwrap() + 12;
        f[at] = if f[at] == b'A' { b'B' } else { b'A' };
        let err = check(files);
        if role == "targets/releases" {
            // Its hash no longer matches the snapshot: fatal, as for notary.
            assert!(format!("{:#}", err.unwrap_err()).contains("checksum for targets/releases.json did not match"));
        } else {
            assert!(err.is_err(), "{role} with a flipped byte was accepted");
        }
    }
}

#[test]
fn hashes_lengths_thresholds_and_key_ids_are_each_checked() {
    let k = keys();
    // Another snapshot than the timestamp names.
    let mut files = repo(&k, &|_, _| {});
    let other = repo(&k, &|r, v| {
        if r == "snapshot" {
            v["version"] = json!(4)
        }
    });
    files.insert("snapshot".into(), other["snapshot"].clone());
    assert!(format!("{:#}", check(files).unwrap_err()).contains("checksum for snapshot.json did not match"));
    // Targets signed by a key that is not the targets role's.
    let mut files = repo(&k, &|_, _| {});
    let targets: Value = serde_json::from_slice(&files["targets"]).unwrap();
    files.insert("targets".into(), sign(&targets["signed"], &[&k.snapshot]));
    let err = format!("{:#}", check(files).unwrap_err());
    assert!(err.contains("threshold for targets") || err.contains("checksum for targets.json"), "{err}");
    // A key listed under an ID that is not its content's.
    let files = repo(&k, &|r, v| {
        if r == "root" {
            let keys = v["keys"].as_object_mut().unwrap();
            let t = keys.remove(&k.targets.id).unwrap();
            keys.insert("f".repeat(64), t);
        }
    });
    assert!(format!("{:#}", check(files).unwrap_err()).contains("the key ID does not match the key"));
    // No root: no trust data, which the plan reports rather than fails on.
    let mut files = repo(&k, &|_, _| {});
    files.remove("root");
    assert!(check(files).unwrap_err().downcast_ref::<NoTrustData>().is_some());
}

#[test]
fn expiry_is_reported_at_the_time_asked() {
    let k = keys();
    let soon = rfc(now() + time::Duration::days(14));
    let files = repo(&k, &|r, v| {
        if r == "timestamp" {
            v["expires"] = json!(soon)
        }
    });
    let today = verify(&mut Files(files.clone()), now()).unwrap();
    assert!(today.expired().is_empty());
    let later = verify(&mut Files(files), now() + time::Duration::days(15)).unwrap();
    let expired: Vec<&str> = later.expired().iter().map(|r| r.role.as_str()).collect();
    assert_eq!(expired, ["timestamp"]);
    // An expired root certificate is reported too.
    let k = Keys { root: x509(true), ..keys() };
    let v = check(repo(&k, &|_, _| {})).unwrap();
    assert!(v.root_cert_expiry[0].2, "{:?}", v.root_cert_expiry);
}

fn rfc(t: OffsetDateTime) -> String {
    rfc3339(t)
}

#[test]
fn a_delegation_is_held_to_its_paths_keys_and_expiry_and_skipped_like_notary_skips_it() {
    let k = keys();
    // Paths: releases may sign only tags starting with "rel-".
    let files = repo(&k, &|r, v| {
        if r == "targets" {
            v["delegations"]["roles"][0]["paths"] = json!(["rel-"]);
        }
    });
    let v = check(files).unwrap();
    assert!(!v.targets.iter().any(|t| t.role == "targets/releases"), "v2 is outside releases' paths");
    // Signed by a key the delegation does not list: skipped, the repository still valid.
    let files = repo(&k, &|r, v| {
        if r == "targets" {
            v["delegations"]["roles"][0]["keyids"] = json!([k.snapshot.id]);
        }
    });
    let v = check(files).unwrap();
    assert!(!v.targets.iter().any(|t| t.role == "targets/releases"));
    let releases = v.roles.iter().find(|r| r.role == "targets/releases").unwrap();
    assert!(releases.skipped.as_deref().unwrap().contains("threshold"), "{releases:?}");
    assert!(v.notes.iter().any(|n| n.contains("targets/releases is skipped")));
    // Expired: skipped too, and the repository's own roles are not expired.
    let past = rfc(now() - time::Duration::days(1));
    let v = check(repo(&k, &|r, v| {
        if r == "targets/releases" {
            v["expires"] = json!(past)
        }
    }))
    .unwrap();
    assert!(v.expired().is_empty() && !v.targets.iter().any(|t| t.role == "targets/releases"));
}

#[test]
fn rsa_and_ed25519_signatures_verify_as_notary_pairs_them() {
    let msg = br#"{"a":1}"#;
    let rsa = Key { keytype: "rsa".into(), keyval: KeyVal { public: RSA_PUBLIC.concat() } };
    let pss = B64.decode(RSA_PSS_SIG.concat()).unwrap();
    let pkcs1 = B64.decode(RSA_PKCS1_SIG.concat()).unwrap();
    assert!(rsa.verifies("rsapss", &pss, msg).unwrap());
    assert!(rsa.verifies("rsa-pkcs1v15", &pkcs1, msg).unwrap());
    assert!(!rsa.verifies("rsapss", &pkcs1, msg).unwrap(), "the method must match the signature");
    assert!(!rsa.verifies("rsapss", &pss, br#"{"a":2}"#).unwrap());
    let ed = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    let key = Key { keytype: "ed25519".into(), keyval: KeyVal { public: B64.encode(ed.public_key()) } };
    let sig = ed.sign(msg);
    assert!(key.verifies("eddsa", sig.as_ref(), msg).unwrap());
    assert!(!key.verifies("ecdsa", sig.as_ref(), msg).unwrap());
    assert!(Key { keytype: "dsa".into(), keyval: KeyVal { public: B64.encode([1]) } }
        .verifies("dsa", &[], msg)
        .is_err());
}

/// An `RSAPublicKey` of `bits` in a SubjectPublicKeyInfo, as `rsa` keys are listed.
fn rsa_spki(bits: usize) -> String {
    let mut n = vec![0xc5u8; bits / 8];
    n[0] |= 0x80;
    let rsa_key = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_bigint_bytes(&n, true);
            w.next().write_u32(65537);
        })
    });
    let spki = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(&[1, 2, 840, 113549, 1, 1, 1]));
                w.next().write_null();
            });
            w.next().write_bitvec_bytes(&rsa_key, rsa_key.len() * 8);
        })
    });
    B64.encode(spki)
}

#[test]
fn keys_notary_would_not_accept_are_refused() {
    let verifier_error = |keytype: &str, public: String| {
        let key = Key { keytype: keytype.into(), keyval: KeyVal { public } };
        format!("{:#}", key.verifies("rsapss", &[0; 256], b"{}").expect_err("a key error"))
    };
    assert!(verifier_error("rsa", rsa_spki(1024)).contains("under 2048 bits"));
    assert!(verifier_error("rsa", rsa_spki(16384)).contains("over 8192 bits"));
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let p384 = B64.encode(rcgen::PublicKeyData::subject_public_key_info(&p384));
    assert!(verifier_error("ecdsa", p384.clone()).contains("not a P-256 public key"));
    assert!(verifier_error("rsa", p384).contains("not an RSA key"));
    assert!(verifier_error("ecdsa", rsa_spki(2048)).contains("not a P-256 public key"));
    assert!(verifier_error("ed25519", B64.encode([1; 31])).contains("32 bytes"));
    // The real 2048-bit key is read as such (its signatures are checked above).
    let rsa = Key { keytype: "rsa".into(), keyval: KeyVal { public: RSA_PUBLIC.concat() } };
    assert!(!rsa.verifies("rsapss", &[0; 256], b"{}").unwrap());
}
