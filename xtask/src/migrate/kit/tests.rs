use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use serde::Deserialize;

use super::*;

const PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtest\n-----END PUBLIC KEY-----\n";
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";

fn input(formats: Vec<Format>) -> Input {
    Input {
        sandbox: "trust-sandbox".into(),
        registry: "sandboxregistry:5000".into(),
        host_registry: "127.0.0.1:5000".into(),
        plain_http: true,
        cosign_pub: PUB.into(),
        notation_cert: CERT.into(),
        notation_policy: "{\"version\":\"1.0\"}\n".into(),
        formats,
        pinned: vec![format!("sandboxregistry:5000/app/web:v1@sha256:{}", "a".repeat(64))],
        repositories: vec!["app/web".into(), "team/api".into()],
    }
}

fn files(i: &Input) -> BTreeMap<String, String> {
    render(i).unwrap().into_iter().map(|f| (f.path, f.content)).collect()
}

#[test]
fn the_policy_rejects_by_default_and_requires_this_key_for_the_registry() {
    let f = files(&input(Format::ALL.to_vec()));
    let p: Value = serde_json::from_str(&f["containers/policy.json"]).unwrap();
    assert_eq!(p["default"], json!([{"type": "reject"}]));
    let req = &p["transports"]["docker"]["sandboxregistry:5000"][0];
    assert_eq!(req["type"], "sigstoreSigned");
    let key = base64::engine::general_purpose::STANDARD.decode(req["keyData"].as_str().unwrap()).unwrap();
    assert_eq!(key, PUB.as_bytes());
    assert_eq!(req["signedIdentity"], json!({"type": "matchRepository"}));
    check_containers_policy(&p).unwrap();
    // The host variant names each migrated repository under the loopback address and accepts the
    // signature made for its name in the sandbox network.
    let h: Value = serde_json::from_str(&f["containers/host/policy.json"]).unwrap();
    let scopes: Vec<&String> = h["transports"]["docker"].as_object().unwrap().keys().collect();
    assert_eq!(scopes, ["127.0.0.1:5000/app/web", "127.0.0.1:5000/team/api"]);
    assert_eq!(
        h["transports"]["docker"]["127.0.0.1:5000/app/web"][0]["signedIdentity"],
        json!({"type": "exactRepository", "dockerRepository": "sandboxregistry:5000/app/web"})
    );
    assert_eq!(h["default"], json!([{"type": "reject"}]));
    check_containers_policy(&h).unwrap();
    // Nothing migrated yet: no host variant (it would name no scope).
    let mut none = input(Format::ALL.to_vec());
    none.repositories.clear();
    assert!(!files(&none).keys().any(|k| k.starts_with("containers/host/")));
}

#[test]
fn a_policy_that_would_accept_everything_fails() {
    let good = containers_policy(&network_scopes("sandboxregistry:5000"), PUB);
    let mut accept_default = good.clone();
    accept_default["default"] = json!([{"type": "insecureAcceptAnything"}]);
    let mut no_default = good.clone();
    no_default.as_object_mut().unwrap().remove("default");
    let mut accept_scope = good.clone();
    accept_scope["transports"]["docker"]["sandboxregistry:5000"] = json!([{"type": "insecureAcceptAnything"}]);
    let mut wildcard = good.clone();
    wildcard["transports"]["docker"]["*.sandbox"] = good["transports"]["docker"]["sandboxregistry:5000"].clone();
    let mut transport_default = good.clone();
    transport_default["transports"]["docker-daemon"] = json!({"": [{"type": "insecureAcceptAnything"}]});
    let mut empty = good.clone();
    empty["transports"]["docker"]["sandboxregistry:5000"] = json!([]);
    let mut keyless = good.clone();
    keyless["transports"]["docker"]["sandboxregistry:5000"][0].as_object_mut().unwrap().remove("keyData");
    let mut no_identity = good.clone();
    no_identity["transports"]["docker"]["sandboxregistry:5000"][0].as_object_mut().unwrap().remove("signedIdentity");
    let mut nothing = good.clone();
    nothing["transports"] = json!({});
    for (what, p) in [
        ("accept-anything default", accept_default),
        ("missing default", no_default),
        ("accept-anything scope", accept_scope),
        ("wildcard scope", wildcard),
        ("transport-wide accept", transport_default),
        ("empty requirements", empty),
        ("no key", keyless),
        ("no identity", no_identity),
        ("no scope", nothing),
    ] {
        assert!(check_containers_policy(&p).is_err(), "{what} passed: {p}");
    }
    check_containers_policy(&good).unwrap();
}

#[test]
fn registries_d_turns_on_sigstore_attachments_and_conf_d_allows_plain_http() {
    let f = files(&input(Format::ALL.to_vec()));
    let d: Value = serde_saphyr::from_str(&f["containers/registries.d/trust-sandbox.yaml"]).unwrap();
    assert_eq!(d, json!({"docker": {"sandboxregistry:5000": {"use-sigstore-attachments": true}}}));
    let h: Value = serde_saphyr::from_str(&f["containers/host/registries.d/trust-sandbox.yaml"]).unwrap();
    assert_eq!(h["docker"]["127.0.0.1:5000"]["use-sigstore-attachments"], true);
    let conf: toml::Value = toml::from_str(&f["containers/registries.conf.d/50-trust-sandbox.conf"]).unwrap();
    assert_eq!(conf["registry"][0]["location"].as_str(), Some("sandboxregistry:5000"));
    assert_eq!(conf["registry"][0]["insecure"].as_bool(), Some(true));
    let mut tls = input(Format::ALL.to_vec());
    tls.plain_http = false;
    assert!(!files(&tls).keys().any(|k| k.contains("registries.conf.d")), "a TLS registry needs no insecure entry");
}

#[test]
fn the_kit_holds_no_secret_and_the_same_key_and_certificate() {
    let f = files(&input(Format::ALL.to_vec()));
    for (path, content) in &f {
        assert!(!content.contains("PRIVATE KEY") && !content.to_lowercase().contains("password"), "{path}");
    }
    assert_eq!(f["cosign.pub"], PUB);
    assert_eq!(f["notation.crt"], CERT);
    assert_eq!(f["notation/truststore/x509/ca/trust-sandbox/notation.crt"], CERT);
    assert_eq!(f["digests.txt"], format!("sandboxregistry:5000/app/web:v1@sha256:{}\n", "a".repeat(64)));
    assert!(!f["README.md"].contains("WARNING"), "{}", f["README.md"]);
    let bundle_only = files(&input(vec![Format::CosignBundle]));
    assert!(bundle_only["README.md"].contains("refuses every one of them"), "{}", bundle_only["README.md"]);
}

// Kyverno's `kyverno.io/v1` ClusterPolicy, only the fields the kit emits, with the JSON names of
// Kyverno's API types (api/kyverno/v1: spec_types.go, rule_types.go, image_verification_types.go;
// the CRD config/crds/kyverno/kyverno.io_clusterpolicies.yaml). Unknown fields fail the parse.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClusterPolicy {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
    #[allow(dead_code)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec {
    background: bool,
    failure_policy: String,
    webhook_timeout_seconds: u32,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Rule {
    name: String,
    #[serde(rename = "match")]
    matches: Match,
    verify_images: Vec<ImageVerification>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Match {
    any: Vec<ResourceFilter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceFilter {
    resources: Resources,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resources {
    kinds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImageVerification {
    #[serde(rename = "type")]
    kind: String,
    image_references: Vec<String>,
    failure_action: String,
    required: bool,
    mutate_digest: bool,
    verify_digest: bool,
    image_registry_credentials: Option<Credentials>,
    attestors: Vec<AttestorSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Credentials {
    allow_insecure_registry: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestorSet {
    count: Option<usize>,
    entries: Vec<Attestor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attestor {
    keys: Option<StaticKey>,
    certificates: Option<Certificates>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StaticKey {
    public_keys: String,
    rekor: Rekor,
    ctlog: CtLog,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Rekor {
    ignore_tlog: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CtLog {
    #[serde(rename = "ignoreSCT")]
    ignore_sct: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Certificates {
    cert: String,
}

fn kyverno(formats: Vec<Format>) -> ClusterPolicy {
    let text = &files(&input(formats))["kyverno/clusterpolicy.yaml"];
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn the_kyverno_policy_has_kyvernos_structure_and_its_validation_rules_hold() {
    let p = kyverno(Format::ALL.to_vec());
    assert_eq!((p.api_version.as_str(), p.kind.as_str()), ("kyverno.io/v1", "ClusterPolicy"));
    assert!(p.metadata.name.len() <= 63 && p.metadata.name.starts_with("trust-sandbox-"));
    assert!(!p.spec.background && p.spec.failure_policy == "Fail" && p.spec.webhook_timeout_seconds <= 30);
    let names: Vec<&str> = p.spec.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["cosign-key", "notation-certificate"]);
    for rule in &p.spec.rules {
        assert_eq!(rule.matches.any[0].resources.kinds, ["Pod"]);
        for v in &rule.verify_images {
            // Kyverno's enums and its ImageVerification.Validate: references present, count within
            // the entries, exactly one kind of attestor per entry, no keys for Notary.
            assert!(["Cosign", "SigstoreBundle", "Notary"].contains(&v.kind.as_str()), "{}", v.kind);
            assert_eq!(v.failure_action, "Enforce");
            assert!(v.required && v.mutate_digest && v.verify_digest);
            assert_eq!(v.image_references, ["sandboxregistry:5000/*"]);
            assert!(v.image_registry_credentials.as_ref().is_some_and(|c| c.allow_insecure_registry));
            for set in &v.attestors {
                assert!(!set.entries.is_empty() && set.count.unwrap_or(1) <= set.entries.len());
                for e in &set.entries {
                    assert!(e.keys.is_some() != e.certificates.is_some(), "one attestor kind per entry");
                    if v.kind == "Notary" {
                        assert!(e.keys.is_none());
                        assert_eq!(e.certificates.as_ref().unwrap().cert, CERT.trim_end());
                    } else {
                        let k = e.keys.as_ref().unwrap();
                        assert_eq!(k.public_keys, PUB.trim_end());
                        assert!(k.rekor.ignore_tlog && k.ctlog.ignore_sct);
                    }
                }
            }
        }
    }
    assert_eq!(p.spec.rules[0].verify_images[0].kind, "Cosign", "the .sig format is there: Kyverno's Cosign type");
}

#[test]
fn the_kyverno_rules_follow_the_formats_written() {
    let bundle = kyverno(vec![Format::CosignBundle]);
    assert_eq!(bundle.spec.rules.len(), 1);
    assert_eq!(bundle.spec.rules[0].verify_images[0].kind, "SigstoreBundle");
    let notation = kyverno(vec![Format::Notation]);
    assert_eq!(notation.spec.rules[0].name, "notation-certificate");
}

#[test]
fn the_kit_is_written_world_readable_and_replaces_only_a_kit() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    let mut all = render(&input(Format::ALL.to_vec())).unwrap();
    write(&kit, &all).unwrap();
    let policy = kit.join("containers/policy.json");
    assert_eq!(std::fs::metadata(&policy).unwrap().permissions().mode() & 0o777, 0o644);
    assert!(std::fs::read_to_string(kit.join(MARKER)).unwrap().contains("kyverno/clusterpolicy.yaml"));
    // A rerun replaces the kit and drops what it no longer has.
    all.retain(|f| f.path != "digests.txt");
    write(&kit, &all).unwrap();
    assert!(!kit.join("digests.txt").exists() && policy.exists());
    // A directory of other files is not touched.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("mine"), "x").unwrap();
    let err = write(&other, &all).unwrap_err().to_string();
    assert!(err.contains("no consumer kit") && err.contains("--kit"), "{err}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
    // A path under a file cannot be a kit; nothing is created.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = preflight(&file.join("kit")).unwrap_err().to_string();
    assert!(err.contains("not a directory") && err.contains("--kit"), "{err}");
    assert!(preflight(&dir.path().join("new/deeper/kit")).is_ok());
    assert!(!dir.path().join("new").exists(), "preflight creates nothing");
}
