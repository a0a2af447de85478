//! `migrate --from … --apply`: every digest DCT signed (and the registry still serves) signed
//! again with the user's own keys, in the registry that holds it, each signature verified; an
//! evidence report ties every new signature to the DCT signature it replaces.
//!
//! The signing runs in a `signers` container of the migrating sandbox on the host's network, so
//! it reaches the user's registry as the host does (a registry published on the host's loopback
//! included; the container never joins another sandbox's network). Measured with docker 20.10 and
//! podman 4.3: the host gateway does not reach ports published on 127.0.0.1 only, host networking
//! does. The registry's credentials reach cosign and notation as a docker `config.json` written
//! through stdin into the container's `/dev/shm` (memory, never argv, never a file on the host);
//! a registry CA through `SSL_CERT_FILE`, which Go programs read beside the system's directory.
//!
//! Idempotent and resumable: the signing is `migrate`'s own ([`signing::ensure`], with the
//! user's keys and registry): each format asked for is verified with the user's key first (a
//! signature already there is kept) and signed only if missing, cosign in the formats
//! `--cosign-format` names (both by default: containers/image reads only the `.sig` tag); and the
//! evidence file is rewritten after every digest, so an interrupted run is completed by running
//! it again.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::enforce::{PolicyConsumer, PolicyPull};
use super::evidence::{self, DctSource, Evidence, Outcome, Record, ToolResult};
use super::keys::{last_certificate, Keys, NotationFiles};
use super::plan::{Action, Plan};
use super::registry::Artifact;
use super::Remote;
use crate::engine::Output;
use crate::engine::{EnvVar, Mount, RunSpec};
use crate::migrate::signers::{ImageChoice, IMAGE};
use crate::migrate::signing::{self, DigestRef, Format, FormatResult, Status};
use crate::sandbox::Sandbox;
use crate::step::{self, mask::Masker, Step};
use crate::tuf::verify::Verified;
use crate::ui;
use crate::util;

/// Where the user's key files are mounted, read-only.
const KEYS: &str = "/migrate/keys";
/// The container's memory-backed scratch: credentials, Notation's config, the public key.
const SHM: &str = "/dev/shm/migrate";
const CA_TARGET: &str = "/migrate/ca.crt";
/// The key name `prepare` gives the user's Notation key in the container's `signingkeys.json`.
const NOTATION_KEY_NAME: &str = "migrate";
/// The variables cosign's KMS providers read, passed through when set.
const KMS_ENV_PREFIXES: &[&str] = &["AWS_", "AZURE_", "GOOGLE_", "VAULT_", "GCP_"];

/// The signers container on the host's network, with the user's keys and credentials.
struct Signer<'a> {
    sb: &'a Sandbox,
    container: String,
    registry: signing::Registry,
    env: Vec<(String, String)>,
    keys: Keys,
    masker: Masker,
}

pub struct Setup<'a> {
    pub sb: &'a Sandbox,
    pub image: ImageChoice,
    pub keys: Keys,
    pub registry_ca: Option<PathBuf>,
    pub evidence: PathBuf,
    pub allow_expired: bool,
    /// Where the consumer kit for the user's registry goes (`--kit`).
    pub kit: PathBuf,
}

/// Signs everything the plan marks, and writes the evidence after each digest.
pub fn run(
    sh: &Shell,
    setup: &Setup<'_>,
    remote: &Remote,
    plan: &Plan,
    verified: &[(String, Verified)],
) -> Result<Evidence> {
    if setup.keys.is_empty() {
        bail!("--apply needs a key: --cosign-key REF and/or --notation-key NAME (or --notation-cert with --notation-key-file)");
    }
    let expired: Vec<String> = plan
        .repositories
        .iter()
        .filter(|r| matches!(r.status, super::plan::RepoStatus::Expired))
        .map(|r| format!("{} ({})", r.repository, r.problem.clone().unwrap_or_default()))
        .collect();
    if !expired.is_empty() && !setup.allow_expired {
        bail!(
            "refusing to sign: the trust data of {} has expired, so DCT itself no longer accepts these signatures. Re-signing them vouches for digests that nothing currently vouches for; if that is what you want, pass --allow-expired-trust-data (nothing was signed)",
            expired.join("; ")
        );
    }
    let masker = Masker::new(&remote.secrets());
    if setup.keys.cosign.is_some() {
        // A kit directory that cannot be written starts nothing.
        crate::migrate::kit::preflight(&setup.kit)?;
    }
    let signer = Signer::start(sh, setup, remote)?;
    // With a cosign key, every digest is pulled through a pull-time policy after signing.
    let policy = match &setup.keys.cosign {
        Some(_) => match policy_consumer(sh, setup, remote, plan, &signer) {
            Ok(p) => Some(p),
            Err(e) => {
                signer.stop(sh);
                return Err(e);
            }
        },
        None => {
            ui::warn(
                "no cosign key: podman, CRI-O and skopeo cannot enforce Notation signatures; no policy pull is made",
            );
            None
        }
    };
    let mut evidence = Evidence {
        format: evidence::FORMAT.into(),
        notary: plan.notary.clone(),
        registry: plan.registry.clone(),
        gun_prefix: plan.gun_prefix.clone(),
        started_at: util::now_rfc3339(),
        finished_at: None,
        keys: setup.keys.describe()?,
        records: Vec::new(),
        skipped: Vec::new(),
        signed: 0,
        already_signed: 0,
        failed: 0,
    };
    let earlier = evidence::read(&setup.evidence);
    for repo in &plan.repositories {
        let Some((_, v)) = verified.iter().find(|(r, _)| *r == repo.repository) else { continue };
        let mut digests: Vec<&str> = Vec::new();
        for t in &repo.tags {
            match t.action {
                Action::Sign | Action::Expired => {
                    if !digests.contains(&t.signed_digest.as_str()) {
                        digests.push(&t.signed_digest);
                    }
                }
                Action::NotServed => evidence.skipped.push(format!(
                    "{}:{} {}: the registry no longer serves the signed digest",
                    repo.repository, t.tag, t.signed_digest
                )),
            }
        }
        for digest in digests {
            let reference = format!("{}/{}@{digest}", remote.registry_address(), repo.repository);
            let dct = repo
                .tags
                .iter()
                .filter(|t| t.signed_digest == digest)
                .flat_map(|t| t.roles.iter().map(move |r| (t, r)))
                .map(|(t, role)| {
                    let state = v.roles.iter().find(|s| s.role == *role);
                    DctSource {
                        gun: repo.gun.clone(),
                        tag: t.tag.clone(),
                        role: role.clone(),
                        signers: t.signers.clone(),
                        metadata_version: state.map(|s| s.version).unwrap_or(0),
                        metadata_sha256: state.map(|s| s.sha256.clone()).unwrap_or_default(),
                        metadata_length: state.map(|s| s.length).unwrap_or(0),
                    }
                })
                .collect();
            let before = remote.registry.signatures(&repo.repository, digest)?;
            let target = DigestRef::new(&format!("{}/{}", remote.registry_address(), repo.repository), digest)?;
            let mut results = signer.sign(sh, &target)?;
            let after = remote.registry.signatures(&repo.repository, digest)?;
            for r in &mut results {
                let of_kind: Vec<&Artifact> = after.iter().filter(|a| a.kind == r.kind).collect();
                r.artifacts = match r.outcome {
                    Outcome::Signed => {
                        of_kind.iter().filter(|a| !before.contains(a)).map(|a| a.digest.clone()).collect()
                    }
                    // Kept: what an earlier run of this evidence file recorded. A run interrupted
                    // between signing and writing its evidence recorded nothing: then the
                    // signatures of this kind that are there, one of which verified with the key.
                    _ => match evidence::earlier_artifacts(&earlier, &reference, &r.kind) {
                        recorded if !recorded.is_empty() => recorded,
                        _ => {
                            r.attributed = false;
                            of_kind.iter().map(|a| a.digest.clone()).collect()
                        }
                    },
                };
                match &r.outcome {
                    Outcome::Signed => {
                        evidence.signed += 1;
                        ui::status("Signed", format!("{reference} ({}, verified)", r.kind));
                    }
                    Outcome::AlreadySigned => {
                        evidence.already_signed += 1;
                        ui::info("Kept", format!("{reference}: {} signature by this key already there", r.kind));
                    }
                    Outcome::Failed(m) => {
                        evidence.failed += 1;
                        ui::warn(format!("{} failed on {reference}: {m}", r.kind));
                    }
                }
            }
            let policy_pull = match &policy {
                Some(p) => Some(judged(p.pull(&reference)?, &reference, setup.keys.wanted(), &mut evidence)),
                None => None,
            };
            evidence.records.push(Record {
                repository: repo.repository.clone(),
                digest: digest.to_string(),
                reference,
                dct,
                results,
                artifacts_after: after,
                policy_pull,
            });
            evidence::write(&setup.evidence, &evidence, &masker)?;
        }
    }
    evidence.finished_at = Some(util::now_rfc3339());
    evidence::write(&setup.evidence, &evidence, &masker)?;
    if let Some(p) = &policy {
        p.stop(sh);
        ui::info("Kit", format!("{} (the policy every digest was pulled through)", setup.kit.display()));
    }
    signer.stop(sh);
    Ok(evidence)
}

/// The consumer kit for the user's registry and key, written to `--kit`, and the consumer that
/// pulls through it.
fn policy_consumer<'a>(
    sh: &Shell,
    setup: &Setup<'a>,
    remote: &Remote,
    plan: &Plan,
    signer: &Signer<'_>,
) -> Result<PolicyConsumer<'a>> {
    let registry = remote.registry_address();
    let pinned = plan
        .repositories
        .iter()
        .flat_map(|r| r.tags.iter().filter(|t| t.action != Action::NotServed).map(move |t| (r, t)))
        .map(|(r, t)| format!("{registry}/{}:{}@{}", r.repository, t.tag, t.signed_digest))
        .collect();
    let notation = setup.keys.notation_files()?;
    let input = crate::migrate::kit::Input {
        sandbox: format!("{} (migrate --from)", setup.sb.name),
        registry: registry.clone(),
        host_registry: registry,
        plain_http: signer.registry.plain_http,
        cosign_pub: signer.cosign_pub(sh)?,
        notation_cert: match &notation {
            Some(n) => last_certificate(&n.cert)?,
            None => String::new(),
        },
        notation_policy: notation_policy(),
        formats: setup.keys.wanted(),
        pinned,
        // The signed identity is the registry's own name: no host variant to remap to it.
        repositories: vec![],
    };
    PolicyConsumer::start(sh, setup.sb, &setup.image, remote, setup.registry_ca.as_deref(), &input, &setup.kit)
}

/// Counts a policy's refusal as a failure when the `.sig` format was written (then it must be
/// readable); with the bundle alone the refusal is what containers/image does, said as a warning.
fn judged(pull: PolicyPull, reference: &str, wanted: Vec<Format>, evidence: &mut Evidence) -> PolicyPull {
    match (pull.accepted, wanted.contains(&Format::CosignLegacy)) {
        (true, _) => ui::status("Pulled", format!("{reference} through the policy (skopeo): accepted")),
        (false, true) => {
            evidence.failed += 1;
            ui::warn(format!("the pull-time policy refused {reference}: {}", pull.detail));
        }
        (false, false) => ui::warn(format!(
            "the pull-time policy refused {reference}: podman, CRI-O and skopeo read only the .sig format (pass --cosign-format both)"
        )),
    }
    pull
}

/// Notation's trust policy for the user's key: the chain must lead to the user's root; any
/// identity under it (the trust store holds nothing else).
fn notation_policy() -> String {
    let policy = serde_json::json!({"version": "1.0", "trustPolicies": [{
        "name": "migrate", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:migrate"], "trustedIdentities": ["*"]}]});
    serde_json::to_string_pretty(&policy).expect("a JSON literal serialises")
}

impl<'a> Signer<'a> {
    fn start(sh: &Shell, setup: &Setup<'a>, remote: &Remote) -> Result<Signer<'a>> {
        let sb = setup.sb;
        let opts = crate::images::Options { mirrors: setup.image.mirrors.clone(), rebuild: false };
        let refs = crate::images::ensure_only(sh, &sb.engine, &sb.spec, setup.image.source, &opts, &[IMAGE])
            .context("preparing the signers image")?;
        let image = refs.get(IMAGE).context("no signers image")?.clone();
        let container = sb.container("migrate-from");
        let mut mounts = Vec::new();
        let mut env_vars = vec![
            EnvVar { name: "DOCKER_CONFIG".into(), value: format!("{SHM}/docker"), secret: false },
            EnvVar { name: "XDG_CONFIG_HOME".into(), value: format!("{SHM}/config"), secret: false },
        ];
        let ro = |source: &Path, target: &str| Mount::Bind {
            source: source.to_path_buf(),
            target: target.into(),
            readonly: true,
        };
        if setup.keys.cosign_is_file() {
            let path = std::path::absolute(setup.keys.cosign.as_deref().unwrap_or_default())?;
            if !path.is_file() {
                bail!("--cosign-key {}: no such file (a KMS key is a URI such as awskms://…)", path.display());
            }
            mounts.push(ro(&path, &format!("{KEYS}/cosign.key")));
        }
        let notation = setup.keys.notation_files()?;
        if let Some(n) = &notation {
            for (p, name) in [(&n.cert, "notation.crt"), (&n.key, "notation.key")] {
                let p = std::path::absolute(p)?;
                if !p.is_file() {
                    bail!("{}: no such file (the Notation {})", p.display(), n.label);
                }
                mounts.push(ro(&p, &format!("{KEYS}/{name}")));
            }
        }
        if let Some(ca) = &setup.registry_ca {
            mounts.push(ro(&std::path::absolute(ca)?, CA_TARGET));
            // Go reads this file and the system's certificate directory: the CA is added.
            env_vars.push(EnvVar { name: "SSL_CERT_FILE".into(), value: CA_TARGET.into(), secret: false });
        }
        let spec = RunSpec {
            name: container.clone(),
            image: image.clone(),
            // The host's network: the registry is reached as the host reaches it.
            network: "host".into(),
            hostname: String::new(),
            aliases: vec![],
            labels: sb.labels(Some("migrate-from")),
            env: env_vars,
            mounts,
            publish: vec![],
            cap_add: vec![],
            security_opt: vec![],
            restart: None,
            command: vec!["sleep".into(), "infinity".into()],
        };
        let engine = &sb.engine;
        if engine.container(sh, &container)?.is_some() {
            engine.remove_containers(sh, std::slice::from_ref(&container))?;
        }
        engine.run(sh, &spec).context("starting the signers container on the host's network")?;
        ui::status("Started", format!("{container} ({image}, host network)"));
        // Secrets for the tools: COSIGN_PASSWORD and a KMS provider's variables, from this
        // process's environment into the engine client's, never argv.
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k == "COSIGN_PASSWORD" || KMS_ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
            .collect();
        env.sort();
        let plain_http = remote.registry.ep.base.starts_with("http://");
        let signer = Signer {
            sb,
            container,
            registry: signing::Registry {
                plain_http,
                ca_file: setup.registry_ca.as_ref().map(|_| CA_TARGET.to_string()),
                docker_config: Some(format!("{SHM}/docker")),
            },
            env,
            keys: setup.keys.clone(),
            masker: Masker::new(&remote.secrets()),
        };
        signer.prepare(sh, remote, notation.as_ref())?;
        Ok(signer)
    }

    fn exec(&self, sh: &Shell, script: &str, stdin: Option<&[u8]>) -> Result<Output> {
        self.sb.engine.exec(sh, &self.container, &["sh", "-c", script], &self.env, stdin)
    }

    /// Writes the credentials, Notation's configuration and the cosign public key into `/dev/shm`.
    fn prepare(&self, sh: &Shell, remote: &Remote, notation: Option<&NotationFiles>) -> Result<()> {
        let docker = remote.docker_config()?;
        let write = |path: &str, bytes: &[u8]| -> Result<()> {
            let script = format!("umask 077 && mkdir -p \"$(dirname {path})\" && cat > {path}");
            let out = self.exec(sh, &script, Some(bytes))?;
            if !out.ok() {
                bail!("writing {path} in the signers container: {}", out.combined().trim());
            }
            Ok(())
        };
        write(&format!("{SHM}/docker/config.json"), &docker)?;
        if let Some(n) = notation {
            let conf = format!("{SHM}/config/notation");
            let keys = serde_json::json!({
                "default": "migrate",
                "keys": [{"name": "migrate", "keyPath": format!("{KEYS}/notation.key"), "certPath": format!("{KEYS}/notation.crt")}],
            });
            write(&format!("{conf}/signingkeys.json"), &serde_json::to_vec_pretty(&keys)?)?;
            write(&format!("{conf}/truststore/x509/ca/migrate/root.crt"), last_certificate(&n.cert)?.as_bytes())?;
            write(&format!("{conf}/trustpolicy.json"), notation_policy().as_bytes())?;
        }
        if let Some(reference) = &self.keys.cosign {
            let key = if self.keys.cosign_is_file() { format!("{KEYS}/cosign.key") } else { reference.clone() };
            let out = self.exec(
                sh,
                &format!("cosign public-key --key {} > {SHM}/cosign.pub", util::shell_quote(&key)),
                None,
            )?;
            if !out.ok() {
                bail!(
                    "cosign could not read the key {reference} (a key file needs its password in COSIGN_PASSWORD): {}",
                    out.combined().trim()
                );
            }
        }
        Ok(())
    }

    /// `migrate`'s signing ([`signing::ensure`]) with the user's keys: each format asked for is
    /// verified first and signed (then verified) only if missing, one after the other in one
    /// script (cosign's bundle and Notation both update the digest's referrers tag).
    fn sign(&self, sh: &Shell, target: &DigestRef) -> Result<Vec<ToolResult>> {
        let wanted = self.keys.wanted();
        let keys = signing::Keys {
            cosign_key: self.cosign_key(),
            cosign_pub: format!("{SHM}/cosign.pub"),
            notation_key: Some(NOTATION_KEY_NAME.to_string()),
        };
        let results = signing::ensure(self, sh, &self.registry, &keys, target, &wanted)?;
        Ok(results.iter().filter(|r| wanted.contains(&r.format)).map(|r| self.result(r)).collect())
    }

    /// One format's outcome in the evidence's terms; a failure's detail masked.
    fn result(&self, r: &FormatResult) -> ToolResult {
        let outcome = match r.status {
            Status::Signed => Outcome::Signed,
            Status::Already => Outcome::AlreadySigned,
            _ => Outcome::Failed(self.masker.mask(&r.detail)),
        };
        ToolResult { kind: r.format.name().into(), outcome, artifacts: vec![], attributed: true }
    }

    /// The user's cosign public key, as `prepare` wrote it (for the consumer kit).
    fn cosign_pub(&self, sh: &Shell) -> Result<String> {
        let out = self.exec(sh, &format!("cat {SHM}/cosign.pub"), None)?;
        if !out.ok() || !out.stdout.contains("PUBLIC KEY") {
            bail!("reading the cosign public key in the signers container: {}", out.combined().trim());
        }
        Ok(out.stdout)
    }

    fn cosign_key(&self) -> String {
        if self.keys.cosign_is_file() {
            format!("{KEYS}/cosign.key")
        } else {
            self.keys.cosign.clone().unwrap_or_default()
        }
    }

    fn stop(&self, sh: &Shell) {
        if let Err(e) = self.sb.engine.remove_containers(sh, std::slice::from_ref(&self.container)) {
            ui::warn(format!("removing {}: {e:#}", self.container));
        }
    }
}

/// The signing code's runtime: the signers container on the host's network, with the cosign
/// key's password (and a KMS provider's variables) from this process's environment; run as a
/// scenario step is, so a signal that ends the run kills its processes in the container.
impl signing::Runtime for Signer<'_> {
    fn run(&self, _sh: &Shell, script: &str, args: &[&str], env: &[(String, String)]) -> Result<Output> {
        let mut all = self.env.clone();
        all.extend(env.iter().cloned());
        let step = Step { container: &self.container, script, args, env: &all };
        step::run(&self.sb.engine, &step, step::NO_LIMIT, &self.masker, false)
    }
}
