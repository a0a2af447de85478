//! The reader against x509-parser (a dev-dependency: an independent ASN.1 stack) on
//! certificates rcgen makes the way the sandbox does.

use rcgen::{CertificateParams, DnType, KeyPair, SanType, PKCS_ECDSA_P256_SHA256, PKCS_ED25519};
use x509_parser::extensions::GeneralName;

use super::*;

fn cert(not_after_year: i32, alg: &'static rcgen::SignatureAlgorithm) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::new(vec!["notaryserver".into(), "localhost".into()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "ZZ");
    params.distinguished_name.push(DnType::StateOrProvinceName, "sandbox");
    params.distinguished_name.push(DnType::OrganizationName, "trust-sandbox");
    params.distinguished_name.push(DnType::CommonName, "trust-sandbox notation abc");
    params.not_before = time::macros::datetime!(2024-01-02 03:04:05 UTC);
    params.not_after =
        time::Date::from_calendar_date(not_after_year, time::Month::June, 7).unwrap().midnight().assume_utc();
    (params.self_signed(&key).unwrap().der().to_vec(), key)
}

#[test]
fn fields_match_x509_parser_in_utc_and_generalized_time() {
    // rcgen writes UTCTime before 2050 and GeneralizedTime from 2050 on, as RFC 5280 asks.
    for year in [2034, 2099] {
        let (der, key) = cert(year, &PKCS_ECDSA_P256_SHA256);
        let ours = parse(&der).unwrap();
        let (rest, theirs) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(rest.is_empty());
        assert_eq!(ours.issuer, theirs.issuer().as_raw());
        assert_eq!(ours.subject, theirs.subject().as_raw());
        assert_eq!(ours.spki, theirs.public_key().raw);
        assert_eq!(ours.spki, rcgen::PublicKeyData::subject_public_key_info(&key));
        assert_eq!(ours.not_before, theirs.validity().not_before.to_datetime());
        assert_eq!(ours.not_after, theirs.validity().not_after.to_datetime());
        assert_eq!(ours.not_after.year(), year);
        let dns: Vec<String> = theirs
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(ours.dns_names, dns);
        assert_eq!(ours.dns_names, ["notaryserver", "localhost"], "the IP SAN is not a DNS name");
        assert_eq!(name_to_string(&ours.subject).unwrap(), theirs.subject().to_string());
        assert_eq!(
            name_to_string(&ours.subject).unwrap(),
            "C=ZZ, ST=sandbox, O=trust-sandbox, CN=trust-sandbox notation abc"
        );
    }
}

#[test]
fn public_keys_name_their_algorithm_and_curve() {
    let (der, key) = cert(2034, &PKCS_ECDSA_P256_SHA256);
    let k = public_key(&parse(&der).unwrap().spki).unwrap();
    assert_eq!(k.algorithm.components().as_slice(), [1, 2, 840, 10045, 2, 1]);
    assert_eq!(k.parameter.unwrap().components().as_slice(), [1, 2, 840, 10045, 3, 1, 7]);
    assert_eq!(k.key, rcgen::PublicKeyData::der_bytes(&key), "the uncompressed point");
    let (der, key) = cert(2034, &PKCS_ED25519);
    let k = public_key(&parse(&der).unwrap().spki).unwrap();
    assert_eq!(k.algorithm.components().as_slice(), [1, 3, 101, 112]);
    assert!(k.parameter.is_none());
    assert_eq!(k.key, rcgen::PublicKeyData::der_bytes(&key));
}

#[test]
fn anything_but_one_certificate_is_refused() {
    let (der, _) = cert(2034, &PKCS_ECDSA_P256_SHA256);
    let mut longer = der.clone();
    longer.push(0);
    assert!(parse(&longer).is_err(), "bytes after the certificate");
    assert!(parse(&der[..der.len() - 1]).is_err(), "a truncated certificate");
    assert!(parse(b"not der").is_err());
    assert!(public_key(&der).is_err(), "a certificate is not a SubjectPublicKeyInfo");
    let pem = pem::encode(&pem::Pem::new("CERTIFICATE", der.clone()));
    assert_eq!(pem_certificate(pem.as_bytes()).unwrap(), der);
    let key = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
    assert!(pem_certificate(key.as_bytes()).unwrap_err().to_string().contains("PRIVATE KEY"));
    assert!(pem_certificate(b"hello").is_err());
}
