//! A private PKI per sandbox: one root CA plus one TLS leaf per service.
//!
//! The CA is the trust anchor that Notary clients, the server and the signer
//! are configured with, so once it exists it is never replaced behind the
//! user's back: replacing it would orphan every piece of trust data issued
//! under it. Leaves are cheap and nothing pins them, so they are (re)issued
//! from the existing CA whenever they are missing or close to expiry.
//!
//! rcgen writes certificates; existing ones are read back with [`util::x509`].

use std::fs::{self, DirBuilder, Permissions};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::util;
use anyhow::{anyhow, bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
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
    pub name: String,
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
#[cfg(test)]
pub fn ensure(dir: &Path, sandbox_id: &str, names: &[&str]) -> Result<Pki> {
    let leaves: Vec<(&str, Vec<&str>)> = names.iter().map(|n| (*n, Vec::new())).collect();
    ensure_with_aliases(dir, sandbox_id, &leaves)
}

/// [`ensure`], where each leaf is also valid for further DNS names (a service's network aliases:
/// the registry is reached as `sandboxregistry`). A leaf that lacks one of them is re-issued.
pub fn ensure_with_aliases(dir: &Path, sandbox_id: &str, leaves: &[(&str, Vec<&str>)]) -> Result<Pki> {
    let names: Vec<&str> = leaves.iter().map(|(n, _)| *n).collect();
    validate_names(&names)?;
    create_private_dir(dir)?;
    let now = OffsetDateTime::now_utc();
    let ca = load_or_create_ca(dir, sandbox_id, &names, now)?;
    let leaves =
        leaves.iter().map(|(name, aliases)| ensure_leaf(dir, &ca, name, aliases, now)).collect::<Result<Vec<_>>>()?;
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
    cert: util::x509::Certificate,
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

fn ensure_leaf(dir: &Path, ca: &Ca, name: &str, aliases: &[&str], now: OffsetDateTime) -> Result<Leaf> {
    let leaf = Leaf { name: name.to_string(), cert: leaf_cert_path(dir, name), key: leaf_key_path(dir, name) };
    // A half-written leaf (crash between the two renames) is simply re-issued:
    // unlike the CA, nothing else depends on a particular leaf.
    // So is a damaged (truncated, mismatched) or foreign one: re-issuing it from the CA is the
    // whole repair, and no trust data is lost by it.
    let complete = exists(&leaf.cert)? && exists(&leaf.key)?;
    let keep = match complete.then(|| leaf_still_valid(&leaf, ca, aliases, now)) {
        None => false,
        Some(Ok(valid)) => valid,
        Some(Err(e)) => {
            // The reason, without `corrupt`'s advice to destroy: for a leaf that is not the fix.
            let reason = format!("{e:#}");
            let reason = reason.split(": the sandbox PKI in").next().unwrap_or(&reason);
            crate::ui::warn(format!("{reason}: re-issuing the {} certificate and key from the sandbox CA", leaf.name));
            false
        }
    };
    if !keep {
        issue_leaf(dir, ca, &leaf, aliases, now)?;
    }
    Ok(leaf)
}

/// Whether an existing leaf can be kept; errors when it is not ours at all.
fn leaf_still_valid(leaf: &Leaf, ca: &Ca, aliases: &[&str], now: OffsetDateTime) -> Result<bool> {
    let cert = read_cert(&leaf.cert)?;
    let key = read_key(&leaf.key)?;
    if cert.spki != key.subject_public_key_info() {
        return Err(corrupt(&leaf.key, &format!("does not belong to {}.crt", leaf.name)));
    }
    if cert.issuer != ca.cert.subject {
        return Err(corrupt(&leaf.cert, "was not issued by this sandbox's CA"));
    }
    // A name the service is now reached by, missing from the certificate, would fail TLS.
    let names_all = aliases.iter().all(|a| cert.dns_names.iter().any(|d| d == a));
    Ok(cert.not_after > now + RENEW_BEFORE && names_all)
}

fn issue_leaf(dir: &Path, ca: &Ca, leaf: &Leaf, aliases: &[&str], now: OffsetDateTime) -> Result<()> {
    let key = generate_key()?;
    let params = leaf_params(&leaf.name, aliases, ca.cert.not_after, now)?;
    let cert = params.signed_by(&key, &ca.issuer).with_context(|| format!("signing the {} certificate", leaf.name))?;
    write_pair(dir, (&leaf.cert, &cert.pem()), (&leaf.key, &key.serialize_pem()))
}

fn leaf_params(
    name: &str,
    aliases: &[&str],
    ca_not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<CertificateParams> {
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
    for alias in aliases.iter().filter(|a| **a != name) {
        params.subject_alt_names.push(dns(alias)?);
    }
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
    let mut bytes = crate::util::random_bytes(SERIAL_BYTES).context("a random certificate serial")?;
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

fn read_cert(path: &Path) -> Result<util::x509::Certificate> {
    let text = read_text(path)?;
    util::x509::pem_certificate(text.as_bytes())
        .ok()
        .and_then(|der| parse_cert(&der))
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
/// at all, and the key never exists with a mode wider than 0600 (both are staged
/// before either is renamed into place).
fn write_pair(dir: &Path, cert: (&Path, &str), key: (&Path, &str)) -> Result<()> {
    util::write_together(dir, &[(key.0, key.1.as_bytes(), KEY_MODE), (cert.0, cert.1.as_bytes(), CERT_MODE)])
}

/// The fields of a DER certificate this module checks; None when it is not one certificate.
fn parse_cert(der: &[u8]) -> Option<util::x509::Certificate> {
    util::x509::parse(der).ok()
}

#[cfg(test)]
mod tests;
