use serde_json::json;

use super::*;
use crate::tuf::KeyVal;

fn key(public: &str) -> (String, serde_json::Value) {
    let k = Key { keytype: "ecdsa".into(), keyval: KeyVal { public: public.into() } };
    (k.id(), json!({"keytype": "ecdsa", "keyval": {"private": null, "public": public}}))
}

fn file(kind: &str, version: u64, expires: &str, body: serde_json::Value, signers: &[&str]) -> RawFile {
    let mut signed = json!({"_type": kind, "version": version, "expires": expires});
    signed.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    let sigs: Vec<_> = signers.iter().map(|k| json!({"keyid": k, "method": "ecdsa", "sig": "AA=="})).collect();
    RawFile::new(serde_json::to_vec(&json!({"signed": signed, "signatures": sigs})).unwrap())
}

const LATER: &str = "2030-01-01T00:00:00Z";

/// A repository after `signer add alice` and `signer remove alice`: releases has no keys left,
/// alice's own role is no longer delegated; root v2 is signed by the new and the old root key.
pub(crate) fn repository() -> (Files, [String; 5]) {
    let (root_old, _) = key("root-old");
    let (root, root_json) = key("root-new");
    let (targets, targets_json) = key("targets");
    let (snapshot, snapshot_json) = key("snapshot");
    let (timestamp, timestamp_json) = key("timestamp");
    let (alice, _) = key("alice");
    let mut files = Files::new();
    let keys = json!({ root.clone(): root_json, targets.clone(): targets_json, snapshot.clone(): snapshot_json, timestamp.clone(): timestamp_json });
    let roles = json!({
        "root": {"keyids": [root], "threshold": 1}, "targets": {"keyids": [targets], "threshold": 1},
        "snapshot": {"keyids": [snapshot], "threshold": 1}, "timestamp": {"keyids": [timestamp], "threshold": 1}
    });
    files.insert(
        "root".into(),
        file("Root", 2, "2036-01-01T00:00:00Z", json!({"keys": keys, "roles": roles}), &[&root, &root_old]),
    );
    let tag = json!({"hashes": {"sha256": "a4Kmd2Qp8c8sgeh6DGRJ3d3HARgcp9TlbYlSUpMbvy0="}, "length": 523});
    let delegations =
        json!({"keys": {}, "roles": [{"name": "targets/releases", "keyids": null, "threshold": 1, "paths": [""]}]});
    files.insert(
        "targets".into(),
        file("Targets", 4, LATER, json!({"targets": {"owner": tag}, "delegations": delegations}), &[&targets]),
    );
    files.insert("targets/releases".into(), file("Targets", 1, LATER, json!({"targets": {"alice": tag}}), &[&alice]));
    files.insert("targets/alice".into(), file("Targets", 1, LATER, json!({"targets": {"alice": tag}}), &[&alice]));
    files.insert("snapshot".into(), file("Snapshot", 4, LATER, json!({"meta": {}}), &[&snapshot]));
    files.insert("timestamp".into(), file("Timestamp", 4, "2026-01-14T00:00:00Z", json!({"meta": {}}), &[&timestamp]));
    (files, [root, targets, snapshot, timestamp, root_old])
}

pub(crate) fn now() -> time::OffsetDateTime {
    crate::tuf::parse_time("2026-01-01T00:00:00Z").unwrap()
}

#[test]
fn every_role_delegation_tag_and_key_holder_is_in_the_view() {
    let (files, [root, targets, snapshot, _, root_old]) = repository();
    let holdings = vec![
        KeyHolding { key_id: root.clone(), holder: Holder::Client { identity: None } },
        KeyHolding { key_id: targets.clone(), holder: Holder::Client { identity: None } },
        KeyHolding { key_id: snapshot.clone(), holder: Holder::Signer },
    ];
    let v = build("r/x", Source::Server, &files, &holdings, now());
    let names: Vec<&str> = v.roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["root", "targets", "targets/releases", "targets/alice", "snapshot", "timestamp"]);
    let role = |n: &str| v.roles.iter().find(|r| r.name == n).unwrap();
    assert_eq!(role("root").version, Some(2));
    assert_eq!(role("root").keys[0].held_by, [Holder::Client { identity: None }]);
    assert_eq!(role("root").foreign_signatures(), [root_old.as_str()], "the old root key cross-signed");
    assert_eq!(role("snapshot").keys[0].held_by, [Holder::Signer]);
    assert!(role("timestamp").keys[0].held_by.is_empty());
    assert_eq!(role("timestamp").expiry.as_deref(), Some("expires in 13 days"));
    assert_eq!(role("targets").tags[0].name, "owner");
    assert_eq!(
        role("targets").tags[0].digest.as_deref(),
        Some("sha256:6b82a6776429f1cf2c81e87a0c6449ddddc701181ca7d4e56d895252931bbf2d")
    );
    let releases = role("targets/releases");
    assert_eq!(releases.parent.as_deref(), Some("targets"));
    assert!(releases.delegated && releases.keyless(), "{releases:?}");
    assert_eq!(releases.paths.as_deref(), Some(&["".to_string()][..]));
    let alice = role("targets/alice");
    assert!(!alice.delegated);
    assert!(alice.warnings()[0].contains("no longer delegated"), "{:?}", alice.warnings());
    assert_eq!(role("targets").headline(), "v4 · expires in 4 years (2030-01-01) · threshold 1");
}

#[test]
fn a_stale_cache_is_marked_role_by_role() {
    let (server, _) = repository();
    let mut cache = server.clone();
    cache.insert("timestamp".into(), file("Timestamp", 3, "2025-12-30T00:00:00Z", json!({"meta": {}}), &[]));
    cache.remove("targets/alice");
    let mut v = build("r/x", Source::Cache { identity: Some("bob".into()) }, &cache, &[], now());
    compare(&mut v, Source::Server, &server);
    let c = |n: &str| v.roles.iter().find(|r| r.name == n).unwrap().compare.clone();
    assert_eq!(c("targets").unwrap().state, CompareState::Same);
    let ts = c("timestamp").unwrap();
    assert_eq!((ts.state, ts.version), (CompareState::Older, Some(4)));
    assert_eq!(ts.text(&v.source, &Source::Server), "stale: the Notary server has v4");
    let ts_role = v.roles.iter().find(|r| r.name == "timestamp").unwrap();
    assert!(ts_role.expired && ts_role.expiry.as_deref() == Some("expired 2 days ago"), "{ts_role:?}");
    assert_eq!(v.compared_with, Some(Source::Server));
    assert!(v.roles.iter().all(|r| r.name != "targets/alice"), "the cache never had alice's file");
}

#[test]
fn roots_are_linked_by_signatures_not_versions() {
    let (server, [root, ..]) = repository();
    let (other_root, other_json) = key("mallory");
    // A root of another key, signed only by it: not a rotation of the server's.
    let keys = json!({ other_root.clone(): other_json });
    let roles = json!({"root": {"keyids": [other_root], "threshold": 1}});
    let mut foreign = server.clone();
    foreign.insert("root".into(), file("Root", 1, LATER, json!({"keys": keys, "roles": roles}), &[&other_root]));
    let mut v = build("r/x", Source::Server, &server, &[], now());
    compare(&mut v, Source::Cache { identity: None }, &foreign);
    let c = v.roles[0].compare.clone().unwrap();
    assert_eq!((c.state, c.root_keys), (CompareState::Newer, Some(RootLink::Unrelated)));
    assert!(c.text(&v.source, &Source::Cache { identity: None }).starts_with("a different root"));

    // The old root's file (v1, the old key only) against the server's v2 signed by both keys.
    let (old, old_json) = key("root-old");
    let roles = json!({"root": {"keyids": [old], "threshold": 1}});
    let mut before = server.clone();
    before.insert(
        "root".into(),
        file("Root", 1, LATER, json!({"keys": {old.clone(): old_json}, "roles": roles}), &[&old]),
    );
    let mut v = build("r/x", Source::Cache { identity: Some("bob".into()) }, &before, &[], now());
    compare(&mut v, Source::Server, &server);
    let c = v.roles[0].compare.clone().unwrap();
    assert_eq!((c.state, c.root_keys), (CompareState::Older, Some(RootLink::CrossSigned)), "{root}");
    assert!(c.text(&v.source, &Source::Server).contains("clients follow the rotation"));
}

#[test]
fn unreadable_missing_and_oversized_files_are_problems_not_errors() {
    let (mut files, _) = repository();
    files.insert("snapshot".into(), RawFile { bytes: vec![], length: 15 << 20, version: Some(5) });
    files.insert("timestamp".into(), RawFile::new(b"not json".to_vec()));
    files.remove("targets/releases");
    let v = build("r/x", Source::Server, &files, &[], now());
    let role = |n: &str| v.roles.iter().find(|r| r.name == n).unwrap();
    assert_eq!(role("snapshot").version, Some(5));
    assert!(role("snapshot").problem.as_deref().unwrap().contains("too large"));
    assert!(role("timestamp").problem.as_deref().unwrap().contains("not TUF metadata"));
    assert_eq!(role("targets/releases").problem.as_deref(), Some(NO_FILE));
    let json = serde_json::to_string(&v).unwrap();
    let back: TrustView = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v, "the JSON carries the whole view");
}
