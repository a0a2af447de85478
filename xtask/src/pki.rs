//! A private PKI per sandbox: one root CA plus one TLS leaf per service.
//!
//! The CA is the trust anchor that Notary clients, the server and the signer
//! are configured with, so once it exists it is never replaced behind the
//! user's back: replacing it would orphan every piece of trust data issued
//! under it. Leaves are cheap and nothing pins them, so they are (re)issued
//! from the existing CA whenever they are missing or close to expiry.
//!
//! rcgen is built without its `x509-parser` feature here, so existing
//! certificates are read with the minimal DER walker at the bottom of this
//! file; it only needs the handful of fields this module checks.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use tempfile::NamedTempFile;
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";

const ORGANIZATION: &str = "trust-sandbox";
const CA_VALIDITY: Duration = Duration::days(3650);
const LEAF_VALIDITY: Duration = Duration::days(730);
/// Containers and the host may disagree about the time by a few minutes;
/// a certificate that is "not yet valid" breaks TLS just like an expired one.
const BACKDATE: Duration = Duration::hours(1);
/// Re-issue leaves well before expiry so a running sandbox never hits it.
const RENEW_BEFORE: Duration = Duration::days(30);
const SERIAL_BYTES: usize = 16;

const DIR_MODE: u32 = 0o700;
const KEY_MODE: u32 = 0o600;
/// Certificates are public; containers running as another uid must read them.
const CERT_MODE: u32 = 0o644;

const DESTROY_HINT: &str = "run `cargo xtask sandbox destroy` to start over";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub name: &'static str,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub leaves: Vec<Leaf>,
}

/// Loads the PKI in `dir` when complete and valid, otherwise generates what is
/// missing.
///
/// An empty (or absent) `dir` gets a fresh P-256 root CA named
/// "trust-sandbox root CA `sandbox_id`" and one leaf per entry of `names`,
/// each valid for `name`, `localhost`, `127.0.0.1` and `::1`, usable both as a TLS
/// server and as a TLS client certificate (the Notary server authenticates to
/// the signer with its own certificate).
///
/// With an existing CA, missing or soon-to-expire leaves are re-issued from it.
/// A half-present CA, unreadable files, or a CA from another sandbox are
/// errors: recovering from those would mean replacing the trust anchor.
pub fn ensure(dir: &Path, sandbox_id: &str, names: &[&'static str]) -> Result<Pki> {
    validate_names(names)?;
    create_private_dir(dir)?;
    let now = OffsetDateTime::now_utc();
    let ca = load_or_create_ca(dir, sandbox_id, names, now)?;
    let leaves = names.iter().map(|&name| ensure_leaf(dir, &ca, name, now)).collect::<Result<Vec<_>>>()?;
    Ok(Pki { dir: dir.to_path_buf(), ca_cert: dir.join(CA_CERT), leaves })
}

/// Fails if any `*.key` in `dir` grants any permission to group or other.
pub fn check_key_modes(dir: &Path) -> Result<()> {
    let mut loose = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("listing {}", dir.display()))?.path();
        if path.extension() != Some("key".as_ref()) {
            continue;
        }
        let mode = fs::metadata(&path)
            .with_context(|| format!("reading permissions of {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            loose.push(format!("{} (mode {:o})", path.display(), mode & 0o777));
        }
    }
    if !loose.is_empty() {
        bail!("private keys are accessible to group/other: {}; `chmod 600` them or {DESTROY_HINT}", loose.join(", "));
    }
    Ok(())
}

/// The loaded or freshly created root CA.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert: CertInfo,
}

fn validate_names(names: &[&str]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        // Names become both DNS SANs and file names; keep them to what is safe as both.
        let well_formed = !name.is_empty()
            && !name.starts_with('-')
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            bail!("invalid leaf name {name:?}: use lowercase letters, digits and '-'");
        }
        if format!("{name}.crt") == CA_CERT {
            bail!("leaf name {name:?} would overwrite the CA files");
        }
        if names[..i].contains(name) {
            bail!("leaf name {name:?} is listed twice");
        }
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => tighten_dir(dir),
        Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
    }
}

/// A pre-existing directory may have been created with the default umask.
fn tighten_dir(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    if meta.permissions().mode() & 0o777 != DIR_MODE {
        fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
            .with_context(|| format!("restricting {} to mode 700", dir.display()))?;
    }
    Ok(())
}

fn load_or_create_ca(dir: &Path, sandbox_id: &str, names: &[&str], now: OffsetDateTime) -> Result<Ca> {
    let cert_path = dir.join(CA_CERT);
    let key_path = dir.join(CA_KEY);
    match (exists(&cert_path)?, exists(&key_path)?) {
        (true, true) => load_ca(&cert_path, &key_path, sandbox_id, now),
        (false, false) => {
            refuse_orphaned_leaves(dir, names)?;
            create_ca(dir, sandbox_id, now)
        }
        (true, false) => Err(corrupt(&key_path, "is missing although ca.crt exists")),
        (false, true) => Err(corrupt(&cert_path, "is missing although ca.key exists")),
    }
}

/// Leaves without a CA mean the CA was lost after trust was established.
fn refuse_orphaned_leaves(dir: &Path, names: &[&str]) -> Result<()> {
    for name in names {
        for path in [leaf_cert_path(dir, name), leaf_key_path(dir, name)] {
            if exists(&path)? {
                return Err(corrupt(&path, "exists but the CA (ca.crt, ca.key) does not"));
            }
        }
    }
    Ok(())
}

fn load_ca(cert_path: &Path, key_path: &Path, sandbox_id: &str, now: OffsetDateTime) -> Result<Ca> {
    let cert = read_cert(cert_path)?;
    let key = read_key(key_path)?;
    if cert.spki != key.subject_public_key_info() {
        return Err(corrupt(key_path, "does not belong to ca.crt"));
    }
    let params = ca_params(sandbox_id, now);
    // Leaves name their issuer by the DN we put in `params`; if that differs
    // from the stored CA's subject, clients could not chain them to it.
    if subject_of(&params, &key)? != cert.subject {
        bail!("{} was not created for sandbox {sandbox_id:?}; {DESTROY_HINT}", cert_path.display());
    }
    if cert.not_after <= now + RENEW_BEFORE {
        bail!("the sandbox CA {} expires on {}; {DESTROY_HINT}", cert_path.display(), cert.not_after.date());
    }
    Ok(Ca { issuer: Issuer::new(params, key), cert })
}

fn create_ca(dir: &Path, sandbox_id: &str, now: OffsetDateTime) -> Result<Ca> {
    let key = generate_key()?;
    let mut params = ca_params(sandbox_id, now);
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key).context("self-signing the sandbox CA")?;
    write_pair(dir, (&dir.join(CA_CERT), &cert.pem()), (&dir.join(CA_KEY), &key.serialize_pem()))?;
    let info = parse_cert(cert.der()).context("re-reading the CA certificate just generated")?;
    Ok(Ca { issuer: Issuer::new(params, key), cert: info })
}

/// Everything except the serial, which only matters when actually signing the CA.
fn ca_params(sandbox_id: &str, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&format!("trust-sandbox root CA {sandbox_id}"));
    // Path length 0: this CA signs leaves directly and never intermediates.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params
}

/// The DER subject rcgen writes for `params`, found by signing a throwaway certificate.
fn subject_of(params: &CertificateParams, key: &KeyPair) -> Result<Vec<u8>> {
    let probe = params.self_signed(key).context("encoding the expected CA subject")?;
    Ok(parse_cert(probe.der()).context("re-reading the expected CA subject")?.subject)
}

fn ensure_leaf(dir: &Path, ca: &Ca, name: &'static str, now: OffsetDateTime) -> Result<Leaf> {
    let leaf = Leaf { name, cert: leaf_cert_path(dir, name), key: leaf_key_path(dir, name) };
    // A half-written leaf (crash between the two renames) is simply re-issued:
    // unlike the CA, nothing else depends on a particular leaf.
    let complete = exists(&leaf.cert)? && exists(&leaf.key)?;
    if !complete || !leaf_still_valid(&leaf, ca, now)? {
        issue_leaf(dir, ca, &leaf, now)?;
    }
    Ok(leaf)
}

/// Whether an existing leaf can be kept; errors when it is not ours at all.
fn leaf_still_valid(leaf: &Leaf, ca: &Ca, now: OffsetDateTime) -> Result<bool> {
    let cert = read_cert(&leaf.cert)?;
    let key = read_key(&leaf.key)?;
    if cert.spki != key.subject_public_key_info() {
        return Err(corrupt(&leaf.key, &format!("does not belong to {}.crt", leaf.name)));
    }
    if cert.issuer != ca.cert.subject {
        return Err(corrupt(&leaf.cert, "was not issued by this sandbox's CA"));
    }
    Ok(cert.not_after > now + RENEW_BEFORE)
}

fn issue_leaf(dir: &Path, ca: &Ca, leaf: &Leaf, now: OffsetDateTime) -> Result<()> {
    let key = generate_key()?;
    let params = leaf_params(leaf.name, ca.cert.not_after, now)?;
    let cert = params.signed_by(&key, &ca.issuer).with_context(|| format!("signing the {} certificate", leaf.name))?;
    write_pair(dir, (&leaf.cert, &cert.pem()), (&leaf.key, &key.serialize_pem()))
}

fn leaf_params(name: &str, ca_not_after: OffsetDateTime, now: OffsetDateTime) -> Result<CertificateParams> {
    let dns = |host: &str| -> Result<SanType> {
        Ok(SanType::DnsName(host.try_into().with_context(|| format!("{host:?} is not a valid DNS name"))?))
    };
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name);
    params.subject_alt_names = vec![
        dns(name)?,
        dns("localhost")?,
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    // Explicit CA:false so no verifier can mistake a leaf for an issuer.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    params.not_before = now - BACKDATE;
    // A leaf outliving its issuer would fail verification at the CA's expiry anyway.
    params.not_after = (now + LEAF_VALIDITY).min(ca_not_after);
    Ok(params)
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn generate_key() -> Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating a P-256 key")
}

/// rcgen's default serial is a hash of the public key, which is deterministic;
/// RFC 5280 wants serials unique per issuer and CAs conventionally randomise them.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; SERIAL_BYTES];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading random bytes for a certificate serial")?;
    // Positive, and a fixed length so it is never shortened by DER's minimal encoding.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn leaf_cert_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.crt"))
}

fn leaf_key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.key"))
}

fn corrupt(path: &Path, problem: &str) -> anyhow::Error {
    let dir = path.parent().unwrap_or(Path::new("."));
    anyhow!("{} {problem}: the sandbox PKI in {} is corrupt; {DESTROY_HINT}", path.display(), dir.display())
}

fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("inspecting {}", path.display())),
    }
}

fn read_cert(path: &Path) -> Result<CertInfo> {
    let text = read_text(path)?;
    pem_decode(&text, "CERTIFICATE")
        .as_deref()
        .and_then(parse_cert)
        .ok_or_else(|| corrupt(path, "is not a readable PEM certificate"))
}

fn read_key(path: &Path) -> Result<KeyPair> {
    let text = read_text(path)?;
    KeyPair::from_pem(&text).map_err(|e| corrupt(path, &format!("is not a readable private key ({e})")))
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| corrupt(path, &format!("cannot be read ({e})")))
}

/// Writes a certificate and its key so that each file appears complete or not
/// at all, and the key never exists with a mode wider than 0600.
fn write_pair(dir: &Path, cert: (&Path, &str), key: (&Path, &str)) -> Result<()> {
    // Stage both before renaming either, so the window in which only one of
    // them exists is two renames long rather than a key generation long.
    let staged_key = stage(dir, key.1, KEY_MODE)?;
    let staged_cert = stage(dir, cert.1, CERT_MODE)?;
    commit(staged_key, key.0)?;
    commit(staged_cert, cert.0)?;
    // Make the renames themselves durable, not just the file contents.
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

fn stage(dir: &Path, contents: &str, mode: u32) -> Result<NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(".staging-")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {}", file.path().display()))?;
    Ok(file)
}

fn commit(staged: NamedTempFile, dest: &Path) -> Result<()> {
    staged
        .persist(dest)
        .map(drop)
        .map_err(|e| e.error)
        .with_context(|| format!("moving a new file into place as {}", dest.display()))
}

/// The few certificate fields this module inspects, as raw DER where compared bytewise.
#[derive(Debug)]
struct CertInfo {
    issuer: Vec<u8>,
    subject: Vec<u8>,
    spki: Vec<u8>,
    not_after: OffsetDateTime,
}

fn pem_decode(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    base64_decode(&text[start..stop])
}

fn base64_decode(body: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits, mut padding) = (0u32, 0u32, false);
    for c in body.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn parse_cert(der: &[u8]) -> Option<CertInfo> {
    use der::{expect, next, Tag};
    let (cert, trailing) = expect(der, Tag::SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (tbs, _) = expect(cert.body, Tag::SEQUENCE)?;
    let (first, after_version) = next(tbs.body)?;
    // The version field is optional (absent means v1).
    let fields = if first.tag == Tag::VERSION { after_version } else { tbs.body };
    let (_serial, fields) = expect(fields, Tag::INTEGER)?;
    let (_signature_algorithm, fields) = expect(fields, Tag::SEQUENCE)?;
    let (issuer, fields) = expect(fields, Tag::SEQUENCE)?;
    let (validity, fields) = expect(fields, Tag::SEQUENCE)?;
    let (subject, fields) = expect(fields, Tag::SEQUENCE)?;
    let (spki, _) = expect(fields, Tag::SEQUENCE)?;
    let (_not_before, rest) = next(validity.body)?;
    let (not_after, _) = next(rest)?;
    Some(CertInfo {
        issuer: issuer.whole.to_vec(),
        subject: subject.whole.to_vec(),
        spki: spki.whole.to_vec(),
        not_after: der::time(&not_after)?,
    })
}

/// Just enough DER to walk to the fields of a `TBSCertificate`.
mod der {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

    pub(super) struct Tag;

    impl Tag {
        pub(super) const INTEGER: u8 = 0x02;
        pub(super) const UTC_TIME: u8 = 0x17;
        pub(super) const GENERALIZED_TIME: u8 = 0x18;
        pub(super) const SEQUENCE: u8 = 0x30;
        pub(super) const VERSION: u8 = 0xa0;
    }

    pub(super) struct Tlv<'a> {
        pub(super) tag: u8,
        pub(super) body: &'a [u8],
        /// Header and body, for bytewise comparison of whole structures.
        pub(super) whole: &'a [u8],
    }

    pub(super) fn next(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
        let (&tag, rest) = input.split_first()?;
        // Multi-byte tags never occur in the fields read here.
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite length, which DER forbids.
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            len_bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let header = input.len() - rest.len();
        let (body, after) = rest.split_at(len);
        let tlv = Tlv { tag, body, whole: &input[..header + len] };
        Some((tlv, after))
    }

    pub(super) fn expect(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
        next(input).filter(|(tlv, _)| tlv.tag == tag)
    }

    /// `UTCTime` (`YYMMDDHHMMSSZ`) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`), the only
    /// forms RFC 5280 allows in certificates.
    pub(super) fn time(tlv: &Tlv<'_>) -> Option<OffsetDateTime> {
        let digits = std::str::from_utf8(tlv.body).ok()?.strip_suffix('Z')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (year, rest) = match (tlv.tag, digits.len()) {
            (Tag::UTC_TIME, 12) => {
                let yy: i32 = digits[..2].parse().ok()?;
                // RFC 5280 4.1.2.5.1: two-digit years 50..99 are 19xx.
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
            }
            (Tag::GENERALIZED_TIME, 14) => (digits[..4].parse().ok()?, &digits[4..]),
            _ => return None,
        };
        let two = |i: usize| rest[i..i + 2].parse::<u8>().ok();
        let date = Date::from_calendar_date(year, Month::try_from(two(0)?).ok()?, two(2)?).ok()?;
        let time = Time::from_hms(two(4)?, two(6)?, two(8)?).ok()?;
        Some(PrimitiveDateTime::new(date, time).assume_utc())
    }
}

#[cfg(test)]
mod tests {
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
            assert_eq!(dns, [leaf.name, "localhost"]);
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
        let mut params = leaf_params(server.name, ca.cert.not_after, now).unwrap();
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
        fs::write(&pki.leaves[0].key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let err = err_text(ensure(&pki.dir, "garbage", NAMES));
        assert!(err.contains("notaryserver.key") && err.contains("corrupt"), "{err}");
    }

    #[test]
    fn leaf_from_another_ca_is_an_error() {
        let (_tmp, pki) = fresh("mine");
        let (_other_tmp, other) = fresh("other");
        fs::copy(&other.leaves[0].cert, &pki.leaves[0].cert).unwrap();
        fs::copy(&other.leaves[0].key, &pki.leaves[0].key).unwrap();
        let err = err_text(ensure(&pki.dir, "mine", NAMES));
        assert!(err.contains("notaryserver.crt") && err.contains("not issued"), "{err}");
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
    fn der_reader_agrees_with_x509_parser() {
        let (_tmp, pki) = fresh("der");
        for leaf in &pki.leaves {
            let mine = read_cert(&leaf.cert).unwrap();
            with_cert(&leaf.cert, |c| {
                assert_eq!(mine.issuer, c.issuer().as_raw());
                assert_eq!(mine.subject, c.subject().as_raw());
                assert_eq!(mine.spki, c.public_key().raw);
                assert_eq!(mine.not_after.unix_timestamp(), c.validity().not_after.timestamp());
            });
        }
    }

    #[test]
    fn der_time_handles_both_encodings() {
        let utc = der::Tlv { tag: der::Tag::UTC_TIME, body: b"491231235959Z", whole: &[] };
        let generalized = der::Tlv { tag: der::Tag::GENERALIZED_TIME, body: b"20500101000000Z", whole: &[] };
        let t = |tlv| der::time(tlv).unwrap().unix_timestamp();
        assert_eq!(t(&utc) + 1, t(&generalized));
        let bad = der::Tlv { tag: der::Tag::UTC_TIME, body: b"4912312359+9Z", whole: &[] };
        assert!(der::time(&bad).is_none());
    }
}
