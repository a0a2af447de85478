//! The on-demand `signers` container (cosign, Notation, crane) and the sandbox's own cosign key
//! and Notation certificate.
//!
//! The container is started only by the commands that need it, on the sandbox's network and with
//! the sandbox's labels, so `down` and `destroy` remove it like every other container. Its keys live
//! in `<state>/signers/` (0700), created once and kept across `down`/`up`:
//! - `cosign.key` (0600, encrypted by cosign with a generated password kept in `secrets.json`,
//!   0600; the password reaches cosign through the engine client's environment only) and
//!   `cosign.pub`;
//! - `notation.key` (0600) and `notation.crt`: a self-signed P-256 code-signing certificate made
//!   here. `notation cert generate-test` makes one that expires after 24 hours (measured with
//!   Notation 1.3.2), which would turn every Notation signature of a sandbox invalid the next day;
//! - `config/notation/`: Notation's signing key list, trust store and trust policy.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use serde::{Deserialize, Serialize};
use xshell::Shell;

use crate::engine::Output;
use crate::engine::{EnvVar, Mount, RunSpec};
use crate::images::{self, SourceKind};
use crate::sandbox::Sandbox;
use crate::step::{self, mask::Masker, Step};
use crate::ui;
use crate::util;

pub const IMAGE: &str = "signers";
/// Where `<state>/signers` is mounted in the container.
pub const MOUNT: &str = "/signers";
const NOTATION_KEY_NAME: &str = "trust-sandbox";
const NOTATION_STORE: &str = "trust-sandbox";
const CERT_VALIDITY_DAYS: i64 = 730;

/// The Notation trust policy: signatures on every repository must verify (strict) against the
/// sandbox's certificate. `trustedIdentities` pins the certificate's subject.
pub fn trust_policy(subject: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "trust-sandbox",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": [format!("ca:{NOTATION_STORE}")],
            "trustedIdentities": [format!("x509.subject: {subject}")],
        }]
    }))
    .expect("a JSON literal serialises")
}

#[derive(Serialize, Deserialize)]
struct SignerSecrets {
    cosign_password: String,
}

/// The running signers container of one sandbox.
pub struct Signers<'a> {
    pub sb: &'a Sandbox,
    pub container: String,
    pub dir: PathBuf,
    cosign_password: String,
}

/// Options for [`Signers::start`]: where the image comes from.
pub struct ImageChoice {
    pub source: SourceKind,
    pub mirrors: Vec<String>,
}

pub fn state_dir(sb: &Sandbox) -> PathBuf {
    sb.dir.path.join("signers")
}

impl<'a> Signers<'a> {
    /// Builds or reuses the image, makes the keys if missing and (re)starts the container.
    pub fn start(sh: &Shell, sb: &'a Sandbox, choice: &ImageChoice) -> Result<Signers<'a>> {
        let opts = images::Options { mirrors: choice.mirrors.clone(), rebuild: false };
        let refs = images::ensure_only(sh, &sb.engine, &sb.spec, choice.source, &opts, &[IMAGE])
            .context("preparing the signers image")?;
        let image = refs.get(IMAGE).context("no signers image")?.clone();
        let dir = state_dir(sb);
        util::make_private_dir(&dir)?;
        let secrets = load_or_create_secrets(&dir)?;
        let (subject, _) = ensure_notation_cert(&dir, &sb.state.id)?;
        write_notation_config(&dir, &subject)?;
        let signers = Signers { sb, container: sb.container(IMAGE), dir, cosign_password: secrets.cosign_password };
        signers.run_container(sh, &image)?;
        signers.ensure_cosign_key(sh)?;
        Ok(signers)
    }

    /// What reports must mask: the cosign key's password.
    pub fn secrets(&self) -> Vec<String> {
        vec![self.cosign_password.clone()]
    }

    fn run_spec(&self, image: &str) -> RunSpec {
        RunSpec {
            env: vec![EnvVar {
                // Notation reads its configuration (keys, trust store, policy) from here.
                name: "XDG_CONFIG_HOME".into(),
                value: format!("{MOUNT}/config"),
                secret: false,
            }],
            mounts: vec![Mount::Bind { source: self.dir.clone(), target: MOUNT.into(), readonly: false }],
            ..super::helper::spec(self.sb, IMAGE, image)
        }
    }

    fn run_container(&self, sh: &Shell, image: &str) -> Result<()> {
        if super::helper::ensure(sh, self.sb, &self.run_spec(image))? {
            ui::status("Started", format!("{} ({image})", self.container));
        }
        Ok(())
    }

    fn ensure_cosign_key(&self, sh: &Shell) -> Result<()> {
        let key = self.dir.join("cosign.key");
        if key.exists() && self.dir.join("cosign.pub").exists() {
            return check_private(&key);
        }
        let script =
            format!("cd {MOUNT} && rm -f cosign.key cosign.pub && cosign generate-key-pair --output-key-prefix cosign");
        let out = self.exec(sh, &["sh", "-c", &script], true)?;
        if !out.ok() {
            bail!("cosign generate-key-pair failed: {}", out.combined().trim());
        }
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        std::fs::set_permissions(self.dir.join("cosign.pub"), std::fs::Permissions::from_mode(0o644))?;
        ui::status("Created", format!("the sandbox's cosign key pair in {}", self.dir.display()));
        check_private(&key)
    }

    /// Runs argv in the container; `cosign` adds COSIGN_PASSWORD through the environment.
    pub fn exec(&self, sh: &Shell, argv: &[&str], cosign: bool) -> Result<Output> {
        let env = if cosign { vec![("COSIGN_PASSWORD".to_string(), self.cosign_password.clone())] } else { vec![] };
        self.sb.engine.exec(sh, &self.container, argv, &env, None)
    }

    /// `sh -c script` with positional arguments, so references never need quoting. It runs as a
    /// scenario step does: a signal that ends the run kills its processes in the container.
    pub fn script(&self, script: &str, args: &[&str], cosign: bool) -> Result<Output> {
        let env = if cosign { vec![("COSIGN_PASSWORD".to_string(), self.cosign_password.clone())] } else { vec![] };
        self.step(script, args, &env)
    }

    fn step(&self, script: &str, args: &[&str], env: &[(String, String)]) -> Result<Output> {
        let step = Step { container: &self.container, script, args, env };
        let masker = Masker::new(std::slice::from_ref(&self.cosign_password));
        step::run(&self.sb.engine, &step, step::NO_LIMIT, &masker, false)
    }

    /// Why a command in the container gave nothing to go by: the container is not running.
    pub fn not_running(&self, sh: &Shell) -> Option<String> {
        match self.sb.engine.container(sh, &self.container) {
            Ok(Some(c)) if c.running => None,
            Ok(Some(c)) => Some(format!("the signers container {} is {} (not running)", self.container, c.status)),
            Ok(None) => Some(format!("the signers container {} is gone", self.container)),
            Err(e) => Some(format!("the signers container {} cannot be inspected: {e:#}", self.container)),
        }
    }

    /// The sandbox's cosign key pair and Notation key, as the container sees them.
    pub fn keys(&self) -> super::signing::Keys {
        super::signing::Keys {
            cosign_key: format!("{MOUNT}/cosign.key"),
            cosign_pub: format!("{MOUNT}/cosign.pub"),
            notation_key: Some(NOTATION_KEY_NAME.to_string()),
        }
    }

    pub fn cosign_pub(&self) -> PathBuf {
        self.dir.join("cosign.pub")
    }

    pub fn notation_cert(&self) -> PathBuf {
        self.dir.join("notation.crt")
    }

    pub fn trust_policy_file(&self) -> PathBuf {
        self.dir.join("config/notation/trustpolicy.json")
    }
}

/// The signing code's runtime: the cosign key's password goes in through the environment, and
/// a signal that ends the run kills the script's processes (as [`Signers::script`]).
impl super::signing::Runtime for Signers<'_> {
    fn run(&self, _sh: &Shell, script: &str, args: &[&str], env: &[(String, String)]) -> Result<Output> {
        let mut all = vec![("COSIGN_PASSWORD".to_string(), self.cosign_password.clone())];
        all.extend(env.iter().cloned());
        self.step(script, args, &all)
    }
}

fn check_private(key: &Path) -> Result<()> {
    let mode = std::fs::metadata(key)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!("{} is readable by others (mode {:o}); fix with chmod 600", key.display(), mode & 0o777);
    }
    Ok(())
}

fn load_or_create_secrets(dir: &Path) -> Result<SignerSecrets> {
    let file = dir.join("secrets.json");
    if file.exists() {
        check_private(&file)?;
        let text = std::fs::read_to_string(&file)?;
        return serde_json::from_str(&text).with_context(|| format!("corrupt {}", file.display()));
    }
    let s = SignerSecrets { cosign_password: util::random_hex(24)? };
    util::write_private(&file, serde_json::to_string_pretty(&s)?.as_bytes())?;
    Ok(s)
}

/// The certificate's subject as Notation prints it in `x509.subject` identities.
fn notation_subject(sandbox_id: &str) -> String {
    format!("C=ZZ,ST=sandbox,O=trust-sandbox,CN=trust-sandbox notation {sandbox_id}")
}

/// Makes `notation.key`/`notation.crt` once; returns the subject and whether it was created.
pub fn ensure_notation_cert(dir: &Path, sandbox_id: &str) -> Result<(String, bool)> {
    let (key_path, cert_path) = (dir.join("notation.key"), dir.join("notation.crt"));
    let subject = notation_subject(sandbox_id);
    if key_path.exists() && cert_path.exists() {
        check_private(&key_path)?;
        return Ok((subject, false));
    }
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the Notation key")?;
    let cert = notation_params(sandbox_id)?.self_signed(&key).context("self-signing the Notation certificate")?;
    util::write_private(&key_path, key.serialize_pem().as_bytes())?;
    util::write_mode(&cert_path, cert.pem().as_bytes(), 0o644)?;
    ui::status("Created", format!("the sandbox's Notation certificate {}", cert_path.display()));
    Ok((subject, true))
}

/// What Notation demands of a signing certificate: digitalSignature, codeSigning, not a CA.
fn notation_params(sandbox_id: &str) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    // Notation's x509.subject identities must name C, ST and O (ZZ: no country).
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "ZZ");
    dn.push(DnType::StateOrProvinceName, "sandbox");
    dn.push(DnType::OrganizationName, "trust-sandbox");
    dn.push(DnType::CommonName, format!("trust-sandbox notation {sandbox_id}"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(CERT_VALIDITY_DAYS);
    let mut serial = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut serial)?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    Ok(params)
}

/// Notation's files under `config/notation`, pointing at the paths inside the container.
fn write_notation_config(dir: &Path, subject: &str) -> Result<()> {
    let conf = dir.join("config/notation");
    let store = conf.join(format!("truststore/x509/ca/{NOTATION_STORE}"));
    std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
    let keys = serde_json::json!({
        "default": NOTATION_KEY_NAME,
        "keys": [{
            "name": NOTATION_KEY_NAME,
            "keyPath": format!("{MOUNT}/notation.key"),
            "certPath": format!("{MOUNT}/notation.crt"),
        }]
    });
    util::write_private(&conf.join("signingkeys.json"), serde_json::to_string_pretty(&keys)?.as_bytes())?;
    std::fs::copy(dir.join("notation.crt"), store.join("notation.crt")).context("filling the Notation trust store")?;
    util::write_mode(&conf.join("trustpolicy.json"), trust_policy(subject).as_bytes(), 0o644)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notation_certificate_is_made_once_and_its_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (subject, created) = ensure_notation_cert(dir.path(), "abc").unwrap();
        assert!(created);
        assert_eq!(subject, "C=ZZ,ST=sandbox,O=trust-sandbox,CN=trust-sandbox notation abc");
        let pem = std::fs::read_to_string(dir.path().join("notation.crt")).unwrap();
        let mode = std::fs::metadata(dir.path().join("notation.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!ensure_notation_cert(dir.path(), "abc").unwrap().1, "kept, not remade");
        assert_eq!(std::fs::read_to_string(dir.path().join("notation.crt")).unwrap(), pem);
        write_notation_config(dir.path(), &subject).unwrap();
        let policy = std::fs::read_to_string(dir.path().join("config/notation/trustpolicy.json")).unwrap();
        assert!(
            policy.contains("x509.subject: C=ZZ,ST=sandbox,O=trust-sandbox,CN=trust-sandbox notation abc"),
            "{policy}"
        );
        assert!(dir.path().join("config/notation/truststore/x509/ca/trust-sandbox/notation.crt").is_file());
    }

    #[test]
    fn the_certificate_is_for_code_signing_and_outlives_a_day() {
        let p = notation_params("x").unwrap();
        assert_eq!(p.extended_key_usages, vec![ExtendedKeyUsagePurpose::CodeSigning]);
        assert!(p.not_after - p.not_before > time::Duration::days(700));
    }

    #[test]
    fn a_loose_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create_secrets(dir.path()).unwrap();
        let f = dir.path().join("secrets.json");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create_secrets(dir.path()).is_err());
    }
}
