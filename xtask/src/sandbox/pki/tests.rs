use super::*;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::pem::parse_x509_pem;

const NAMES: &[&str] = &["notaryserver", "notarysigner"];

fn fresh(id: &str) -> (tempfile::TempDir, Pki) {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ensure(&tmp.path().join("pki"), id, NAMES).unwrap();
    (tmp, pki)
}

fn with_cert<R>(path: &Path, f: impl FnOnce(&X509Certificate<'_>) -> R) -> R {
    let bytes = fs::read(path).unwrap();
    let (_, pem) = parse_x509_pem(&bytes).unwrap();
    let cert = pem.parse_x509().unwrap();
    f(&cert)
}

/// (authority key id, subject key id) as written in the certificate.
fn key_ids(c: &X509Certificate<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (mut aki, mut ski) = (None, None);
    for ext in c.iter_extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
            _ => {}
        }
    }
    (aki, ski)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn err_text(result: Result<Pki>) -> String {
    format!("{:#}", result.expect_err("expected an error"))
}

#[test]
fn leaves_carry_name_localhost_and_loopback_sans() {
    let (_tmp, pki) = fresh("sans");
    for leaf in &pki.leaves {
        let (dns, ips) = with_cert(&leaf.cert, |c| {
            let san = c.subject_alternative_name().unwrap().expect("no SAN extension");
            let mut dns = Vec::new();
            let mut ips = Vec::new();
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                    GeneralName::IPAddress(ip) => ips.push(ip.to_vec()),
                    other => panic!("unexpected SAN {other:?}"),
                }
            }
            (dns, ips)
        });
        assert_eq!(dns, [leaf.name.as_str(), "localhost"]);
        assert!(ips.contains(&vec![127, 0, 0, 1]), "{ips:?}");
        assert!(ips.contains(&Ipv6Addr::LOCALHOST.octets().to_vec()), "{ips:?}");
    }
}

#[test]
fn leaves_allow_server_and_client_auth() {
    let (_tmp, pki) = fresh("eku");
    for leaf in &pki.leaves {
        with_cert(&leaf.cert, |c| {
            let eku = c.extended_key_usage().unwrap().expect("no EKU").value;
            assert!(eku.server_auth && eku.client_auth, "{eku:?}");
            let ku = c.key_usage().unwrap().expect("no KU").value;
            assert!(ku.digital_signature());
            assert!(!ku.key_cert_sign());
        });
    }
}

#[test]
fn only_the_ca_is_a_ca() {
    let (_tmp, pki) = fresh("bc");
    with_cert(&pki.ca_cert, |c| {
        let bc = c.basic_constraints().unwrap().expect("CA lacks basicConstraints").value;
        assert!(bc.ca);
        assert!(bc.path_len_constraint.unwrap_or(u32::MAX) <= 1);
        let ku = c.key_usage().unwrap().expect("CA lacks keyUsage").value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        let cn = c.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "trust-sandbox root CA bc");
    });
    for leaf in &pki.leaves {
        with_cert(&leaf.cert, |c| {
            let bc = c.basic_constraints().unwrap().expect("leaf lacks basicConstraints");
            assert!(!bc.value.ca);
        });
    }
}

#[test]
fn leaves_chain_to_the_ca() {
    let (_tmp, pki) = fresh("chain");
    let ca_bytes = fs::read(&pki.ca_cert).unwrap();
    let (_, ca_pem) = parse_x509_pem(&ca_bytes).unwrap();
    let ca = ca_pem.parse_x509().unwrap();
    ca.verify_signature(None).expect("CA is not self-signed");
    for leaf in &pki.leaves {
        with_cert(&leaf.cert, |c| {
            assert_eq!(c.issuer().as_raw(), ca.subject().as_raw());
            c.verify_signature(Some(ca.public_key())).expect("leaf signature does not verify against the CA");
        });
    }
}

#[test]
fn validity_covers_now_and_more_than_a_year() {
    let (_tmp, pki) = fresh("validity");
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let year = Duration::days(365).whole_seconds();
    let mut certs = vec![pki.ca_cert.clone()];
    certs.extend(pki.leaves.iter().map(|l| l.cert.clone()));
    for path in certs {
        with_cert(&path, |c| {
            let validity = c.validity();
            assert!(validity.not_before.timestamp() <= now - 3000, "not back-dated");
            assert!(validity.not_after.timestamp() > now + year);
        });
    }
}

#[test]
fn serials_are_random_not_key_derived() {
    let (_tmp, pki) = fresh("serial");
    let mut serials: Vec<Vec<u8>> = vec![with_cert(&pki.ca_cert, |c| c.raw_serial().to_vec())];
    serials.extend(pki.leaves.iter().map(|l| with_cert(&l.cert, |c| c.raw_serial().to_vec())));
    for serial in &serials {
        // rcgen's key-derived default would be 20 bytes long.
        assert_eq!(serial.len(), SERIAL_BYTES, "{serial:02x?}");
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 1 + NAMES.len());
}

#[test]
fn keys_are_0600_and_dir_0700() {
    let (_tmp, pki) = fresh("modes");
    assert_eq!(mode(&pki.dir), 0o700);
    assert_eq!(mode(&pki.dir.join(CA_KEY)), 0o600);
    for leaf in &pki.leaves {
        assert_eq!(mode(&leaf.key), 0o600);
    }
    check_key_modes(&pki.dir).unwrap();
    let loose = &pki.leaves[1].key;
    fs::set_permissions(loose, Permissions::from_mode(0o640)).unwrap();
    let err = check_key_modes(&pki.dir).unwrap_err().to_string();
    assert!(err.contains("notarysigner.key"), "{err}");
}

#[test]
fn existing_dir_is_tightened_and_no_staging_files_remain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
    ensure(&dir, "tight", NAMES).unwrap();
    assert_eq!(mode(&dir), 0o700);
    let mut files: Vec<_> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(
        files,
        ["ca.crt", "ca.key", "notaryserver.crt", "notaryserver.key", "notarysigner.crt", "notarysigner.key"]
    );
}

#[test]
fn fresh_dirs_get_different_cas() {
    let (_a, first) = fresh("same-id");
    let (_b, second) = fresh("same-id");
    let key = |pki: &Pki| fs::read(pki.dir.join(CA_KEY)).unwrap();
    assert_ne!(key(&first), key(&second));
    let spki = |pki: &Pki| with_cert(&pki.ca_cert, |c| c.public_key().raw.to_vec());
    assert_ne!(spki(&first), spki(&second));
}

#[test]
fn second_ensure_loads_the_same_pki() {
    let (_tmp, pki) = fresh("reload");
    let snapshot = |pki: &Pki| {
        let mut files = vec![fs::read(&pki.ca_cert).unwrap()];
        for leaf in &pki.leaves {
            files.push(fs::read(&leaf.cert).unwrap());
            files.push(fs::read(&leaf.key).unwrap());
        }
        files
    };
    let before = snapshot(&pki);
    let again = ensure(&pki.dir, "reload", NAMES).unwrap();
    assert_eq!(again, pki);
    assert_eq!(snapshot(&again), before);
}

#[test]
fn missing_leaf_is_reissued_by_the_same_ca() {
    let (_tmp, pki) = fresh("reissue");
    let ca_before = fs::read(&pki.ca_cert).unwrap();
    let signer = &pki.leaves[1];
    let old_cert = fs::read(&signer.cert).unwrap();
    fs::remove_file(&signer.cert).unwrap();
    fs::remove_file(&signer.key).unwrap();

    let again = ensure(&pki.dir, "reissue", NAMES).unwrap();
    assert_eq!(fs::read(&again.ca_cert).unwrap(), ca_before);
    let new_cert = fs::read(&signer.cert).unwrap();
    assert_ne!(new_cert, old_cert);
    assert_eq!(mode(&signer.key), 0o600);
    let (_, ca_pem) = parse_x509_pem(&ca_before).unwrap();
    let ca = ca_pem.parse_x509().unwrap();
    with_cert(&signer.cert, |c| {
        assert_eq!(c.issuer().as_raw(), ca.subject().as_raw());
        c.verify_signature(Some(ca.public_key())).unwrap();
        // The reloaded issuer must name the CA's key the way the CA itself does.
        let (ca_ski, leaf_aki) = (key_ids(&ca).1, key_ids(c).0);
        assert!(ca_ski.is_some());
        assert_eq!(leaf_aki, ca_ski);
    });
}

#[test]
fn half_written_leaf_is_reissued() {
    let (_tmp, pki) = fresh("half");
    let server = &pki.leaves[0];
    fs::remove_file(&server.cert).unwrap();
    ensure(&pki.dir, "half", NAMES).unwrap();
    let cert = read_cert(&server.cert).unwrap();
    let key = read_key(&server.key).unwrap();
    assert_eq!(cert.spki, key.subject_public_key_info());
}

#[test]
fn leaf_near_expiry_is_reissued() {
    let (_tmp, pki) = fresh("expiry");
    let now = OffsetDateTime::now_utc();
    let ca = load_ca(&pki.ca_cert, &pki.dir.join(CA_KEY), "expiry", now).unwrap();
    let server = &pki.leaves[0];
    let key = generate_key().unwrap();
    let mut params = leaf_params(&server.name, &[], ca.cert.not_after, now).unwrap();
    params.not_after = now + Duration::days(10);
    let short = params.signed_by(&key, &ca.issuer).unwrap();
    write_pair(&pki.dir, (&server.cert, &short.pem()), (&server.key, &key.serialize_pem())).unwrap();

    ensure(&pki.dir, "expiry", NAMES).unwrap();
    let renewed = read_cert(&server.cert).unwrap();
    assert!(renewed.not_after > now + Duration::days(365));
    assert_eq!(renewed.issuer, ca.cert.subject);
}

#[test]
fn ca_cert_without_key_is_an_error() {
    let (_tmp, pki) = fresh("nokey");
    fs::remove_file(pki.dir.join(CA_KEY)).unwrap();
    let err = err_text(ensure(&pki.dir, "nokey", NAMES));
    assert!(err.contains("ca.key") && err.contains("corrupt"), "{err}");
    assert!(err.contains("cargo xtask sandbox destroy"), "{err}");
    assert!(!pki.dir.join(CA_KEY).exists(), "must not regenerate the CA");
}

#[test]
fn ca_key_without_cert_is_an_error() {
    let (_tmp, pki) = fresh("nocert");
    fs::remove_file(&pki.ca_cert).unwrap();
    let err = err_text(ensure(&pki.dir, "nocert", NAMES));
    assert!(err.contains("ca.crt") && err.contains("corrupt"), "{err}");
    assert!(!pki.ca_cert.exists(), "must not regenerate the CA");
}

#[test]
fn leaves_without_a_ca_are_an_error() {
    let (_tmp, pki) = fresh("orphan");
    fs::remove_file(&pki.ca_cert).unwrap();
    fs::remove_file(pki.dir.join(CA_KEY)).unwrap();
    let err = err_text(ensure(&pki.dir, "orphan", NAMES));
    assert!(err.contains("notaryserver") && err.contains("corrupt"), "{err}");
}

#[test]
fn unparsable_files_are_errors_naming_the_file() {
    let (_tmp, pki) = fresh("garbage");
    let ca_before = fs::read(&pki.ca_cert).unwrap();
    fs::write(&pki.ca_cert, "not a certificate").unwrap();
    let err = err_text(ensure(&pki.dir, "garbage", NAMES));
    assert!(err.contains("ca.crt") && err.contains("corrupt"), "{err}");

    fs::write(&pki.ca_cert, &ca_before).unwrap();
}

/// A leaf is cheap and nothing pins it: damaged or foreign, it is re-issued from the CA, never a
/// reason to destroy the sandbox (and its trust data).
#[test]
fn truncated_or_foreign_leaves_are_reissued_from_the_ca() {
    let (_tmp, pki) = fresh("mine");
    let (_other_tmp, other) = fresh("other");
    let ca = read_cert(&pki.ca_cert).unwrap();
    let key_text = fs::read_to_string(&pki.leaves[1].key).unwrap();
    fs::write(&pki.leaves[1].key, &key_text[..key_text.len() / 2]).unwrap();
    fs::copy(&other.leaves[0].cert, &pki.leaves[0].cert).unwrap();
    fs::copy(&other.leaves[0].key, &pki.leaves[0].key).unwrap();
    ensure(&pki.dir, "mine", NAMES).unwrap();
    for leaf in &pki.leaves {
        let cert = read_cert(&leaf.cert).unwrap();
        assert_eq!(cert.issuer, ca.subject, "{} issued by this CA", leaf.name);
        assert_eq!(cert.spki, read_key(&leaf.key).unwrap().subject_public_key_info(), "{}", leaf.name);
    }
    assert_eq!(read_cert(&pki.ca_cert).unwrap().spki, ca.spki, "the CA itself is kept");
}

#[test]
fn ca_of_another_sandbox_is_an_error() {
    let (_tmp, pki) = fresh("one");
    let err = err_text(ensure(&pki.dir, "two", NAMES));
    assert!(err.contains("\"two\"") && err.contains("destroy"), "{err}");
}

#[test]
fn unsafe_names_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [&["ca"][..], &["../x"], &[""], &["Upper"], &["a", "a"]] {
        assert!(ensure(&tmp.path().join("pki"), "n", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_leaf_is_valid_for_its_aliases_and_reissued_when_one_is_added() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let first = ensure(&dir, "alias", &["registry"]).unwrap();
    let before = fs::read(&first.leaves[0].cert).unwrap();
    assert!(!read_cert(&first.leaves[0].cert).unwrap().dns_names.contains(&"sandboxregistry".to_string()));
    let again = ensure_with_aliases(&dir, "alias", &[("registry", vec!["sandboxregistry"])]).unwrap();
    let names = read_cert(&again.leaves[0].cert).unwrap().dns_names;
    assert_eq!(names, ["registry", "localhost", "sandboxregistry"]);
    assert_ne!(fs::read(&again.leaves[0].cert).unwrap(), before, "re-issued for the new name");
    let kept = fs::read(&again.leaves[0].cert).unwrap();
    ensure_with_aliases(&dir, "alias", &[("registry", vec!["sandboxregistry"])]).unwrap();
    assert_eq!(fs::read(&again.leaves[0].cert).unwrap(), kept, "a leaf with every name is kept");
}
