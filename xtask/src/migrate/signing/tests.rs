use super::*;

const DIGEST: &str = "sha256:b6d37b9ee682f9f0b438991ee0b103116e9bcb1dd4edb41acad7084281ca6ff1";

fn keys() -> Keys {
    Keys { cosign_key: "/k/cosign.key".into(), cosign_pub: "/k/cosign.pub".into(), notation_key: None }
}

fn r() -> DigestRef {
    DigestRef::new("sandboxregistry:5000/app/web", DIGEST).unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The two referrer manifests as cosign 3.1.1 and Notation 1.3.2 wrote them (shortened).
fn referrers(subject: &str) -> String {
    let bundle = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44","artifactType":"{BUNDLE_ARTIFACT}"}},"layers":[{{"mediaType":"{BUNDLE_ARTIFACT}","size":659,"digest":"sha256:04"}}],"subject":{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":523,"digest":"{subject}"}},"artifactType":"{BUNDLE_ARTIFACT}"}}"#
    );
    let notation = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"{NOTATION_ARTIFACT}","digest":"sha256:44","size":2}},"layers":[{{"mediaType":"application/jose+json","digest":"sha256:7b","size":1444}}],"subject":{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{subject}","size":523}}}}"#
    );
    format!("@@manifest sha256:aaa {}\n@@manifest sha256:bbb {}\n", b64(&bundle), b64(&notation))
}

#[test]
fn referrers_are_told_apart_by_their_manifests_and_subject() {
    let out = format!("{}@@legacy sha256:ccc\n", referrers(DIGEST));
    let p = parse_inspect(&out, DIGEST);
    assert_eq!(p.cosign_bundle, ["sha256:aaa"]);
    assert_eq!(p.notation, ["sha256:bbb"]);
    assert_eq!(p.cosign_legacy, ["sha256:ccc"]);
    // Referrers of another digest sharing the index do not count.
    let other = format!("sha256:{}", "0".repeat(64));
    assert_eq!(parse_inspect(&referrers(&other), DIGEST), Present::default());
    assert_eq!(parse_inspect("@@manifest sha256:x not-base64\n", DIGEST), Present::default());
}

#[test]
fn only_a_reference_by_digest_is_signed() {
    assert!(DigestRef::new("r", "latest").is_err());
    assert!(DigestRef::new("r", "sha256:abc").is_err());
    assert!(DigestRef::new("r@x", DIGEST).is_err());
    let d = r();
    assert_eq!(d.to_string(), format!("sandboxregistry:5000/app/web@{DIGEST}"));
    assert_eq!(d.legacy_tag(), format!("sandboxregistry:5000/app/web:{}.sig", DIGEST.replace(':', "-")));
}

#[test]
fn the_legacy_format_is_asked_for_explicitly_and_no_password_reaches_argv() {
    let reg = Registry::plain_http();
    let legacy = sign_argv(Format::CosignLegacy, &reg, &keys(), &r());
    assert!(legacy.contains(&"--new-bundle-format=false".to_string()), "{legacy:?}");
    assert!(
        legacy.contains(&"--use-signing-config=false".to_string())
            && legacy.contains(&"--tlog-upload=false".to_string())
    );
    let bundle = sign_argv(Format::CosignBundle, &reg, &keys(), &r());
    assert!(!bundle.contains(&"--new-bundle-format=false".to_string()));
    assert!(verify_argv(Format::CosignLegacy, &reg, &keys(), "x").contains(&"--new-bundle-format=false".to_string()));
    let reference = r().to_string();
    for f in Format::ALL {
        for a in [sign_argv(f, &reg, &keys(), &r()), verify_argv(f, &reg, &keys(), "x")] {
            assert!(!a.iter().any(|w| w.to_lowercase().contains("password")), "{a:?}");
            let want = if a[1] == "sign" { reference.as_str() } else { "x" };
            assert_eq!(a.last().unwrap(), want);
        }
    }
}

#[test]
fn a_tls_registry_gets_its_ca_and_credentials_without_insecure_flags() {
    let reg = Registry { plain_http: false, ca_file: Some("/ca.pem".into()), docker_config: Some("/auth".into()) };
    let sign = sign_argv(Format::CosignLegacy, &reg, &keys(), &r());
    assert!(sign.windows(2).any(|w| w == ["--registry-cacert", "/ca.pem"]), "{sign:?}");
    assert!(!sign.iter().any(|w| w.contains("insecure") || w.contains("http-registry")), "{sign:?}");
    assert!(!sign_argv(Format::Notation, &reg, &keys(), &r()).iter().any(|w| w.contains("insecure")));
    assert_eq!(
        reg.env(),
        [("SSL_CERT_FILE".to_string(), "/ca.pem".to_string()), ("DOCKER_CONFIG".into(), "/auth".into())]
    );
    assert!(!inspect_function(&reg).contains("--insecure"));
    assert!(inspect_function(&Registry::plain_http()).contains("crane manifest '--insecure'"));
}

#[test]
fn an_asked_format_is_verified_before_it_is_signed_and_an_absent_bundle_is_never_verified() {
    let present = Present { cosign_legacy: vec!["sha256:c".into()], ..Present::default() };
    let s = ensure_script(&Registry::plain_http(), &keys(), &r(), &[Format::CosignLegacy], &present);
    let legacy_verify = s.find("'--new-bundle-format=false' '--allow-insecure-registry'").unwrap();
    assert!(s[..legacy_verify].contains("echo '@@ cosign-bundle absent'"), "{s}");
    assert!(s.contains("echo '@@ notation absent'"), "{s}");
    // The legacy format is there: verified first, signed only if that fails.
    let verify_at = s.find("if 'cosign' 'verify'").unwrap();
    let sign_at = s.find("'cosign' 'sign'").unwrap();
    assert!(verify_at < sign_at, "{s}");
    // A plain `cosign verify` (bundles) is never run when no bundle is there and none is asked for.
    let bundle_verify = "'cosign' 'verify' '--key' '/k/cosign.pub' '--insecure-ignore-tlog=true' '--allow";
    assert!(!s.contains(bundle_verify), "{s}");
    let status = std::process::Command::new("sh").args(["-n", "-c", &s]).status().unwrap();
    assert!(status.success(), "{s}");
}

#[test]
fn every_combination_is_valid_sh() {
    let all = Present {
        cosign_bundle: vec!["sha256:a".into()],
        cosign_legacy: vec!["sha256:b".into()],
        notation: vec!["sha256:c".into()],
    };
    for present in [Present::default(), all] {
        for wanted in [vec![], CosignFormat::Both.formats(), Format::ALL.to_vec()] {
            let s = ensure_script(&Registry::plain_http(), &keys(), &r(), &wanted, &present);
            let status = std::process::Command::new("sh").args(["-n", "-c", &s]).status().unwrap();
            assert!(status.success(), "{s}");
        }
    }
}

#[test]
fn results_name_every_format_with_the_signatures_there_afterwards() {
    let out = format!(
        "@@ cosign-bundle already\n@@ cosign-legacy signed\n@@ notation failed verify: no signature is associated\n@@final\n{}@@legacy sha256:ccc\n",
        referrers(DIGEST)
    );
    let res = parse_ensure(&out, DIGEST).unwrap();
    assert_eq!(res.iter().map(|r| r.status).collect::<Vec<_>>(), [Status::Already, Status::Signed, Status::Failed]);
    assert_eq!(res[1].signatures, ["sha256:ccc"]);
    assert!(res[2].detail.contains("no signature is associated"), "{:?}", res[2]);
    assert!(res[0].detail.is_empty());
    assert!(parse_ensure("@@ cosign-bundle signed\n", DIGEST).is_err(), "an unfinished script is an error");
    assert!(Status::Present.carried() && !Status::Foreign.carried() && !Status::Failed.carried());
    let j = serde_json::to_value(&res[1]).unwrap();
    assert_eq!(j, serde_json::json!({"format": "cosign-legacy", "status": "signed", "signatures": ["sha256:ccc"]}));
}
