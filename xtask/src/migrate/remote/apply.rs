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
//! Idempotent and resumable: each tool first verifies with the user's key (a signature already
//! there is kept), and the evidence file is rewritten after every digest, so an interrupted run
//! is completed by running it again.
//!
//! ADOPTION POINT (issue 18): signing with cosign in both formats is done here by
//! [`cosign_script`] until issue 18's shared `--cosign-format` signing code lands on main; then
//! this file calls that code instead (see the function's comment).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::evidence::{self, DctSource, Evidence, Outcome, Record, ToolResult};
use super::keys::{last_certificate, Keys, NotationFiles};
use super::plan::{Action, Plan};
use super::registry::Artifact;
use super::tuf::Verified;
use super::Remote;
use crate::engine::{EnvVar, Mount, RunSpec};
use crate::migrate::signers::{ImageChoice, IMAGE};
use crate::migrate::tools::once_script;
use crate::sandbox::Sandbox;
use crate::scenario::mask::Masker;
use crate::ui;
use crate::util::{self, Output};

/// Where the user's key files are mounted, read-only.
const KEYS: &str = "/migrate/keys";
/// The container's memory-backed scratch: credentials, Notation's config, the public key.
const SHM: &str = "/dev/shm/migrate";
const CA_TARGET: &str = "/migrate/ca.crt";
/// The variables cosign's KMS providers read, passed through when set.
const KMS_ENV_PREFIXES: &[&str] = &["AWS_", "AZURE_", "GOOGLE_", "VAULT_", "GCP_"];

/// The signers container on the host's network, with the user's keys and credentials.
struct Signer<'a> {
    sb: &'a Sandbox,
    container: String,
    plain_http: bool,
    env: Vec<(String, String)>,
    keys: Keys,
}

pub struct Setup<'a> {
    pub sb: &'a Sandbox,
    pub image: ImageChoice,
    pub keys: Keys,
    pub registry_ca: Option<PathBuf>,
    pub evidence: PathBuf,
    pub allow_expired: bool,
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
    let signer = Signer::start(sh, setup, remote)?;
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
            let mut results = signer.sign(sh, &reference, &before, &masker)?;
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
            evidence.records.push(Record {
                repository: repo.repository.clone(),
                digest: digest.to_string(),
                reference,
                dct,
                results,
                artifacts_after: after,
            });
            evidence::write(&setup.evidence, &evidence, &masker)?;
        }
    }
    evidence.finished_at = Some(util::now_rfc3339());
    evidence::write(&setup.evidence, &evidence, &masker)?;
    signer.stop(sh);
    Ok(evidence)
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
        let signer = Signer {
            sb,
            container,
            plain_http: remote.registry.ep.base.starts_with("http://"),
            env,
            keys: setup.keys.clone(),
        };
        signer.prepare(sh, remote, notation.as_ref())?;
        Ok(signer)
    }

    fn exec(&self, sh: &Shell, script: &str, stdin: Option<&[u8]>) -> Result<Output> {
        self.sb.engine.exec(sh, &self.container, &["sh", "-c", script], &self.env, stdin)
    }

    /// Writes the credentials, Notation's configuration and the cosign public key into `/dev/shm`.
    fn prepare(&self, sh: &Shell, remote: &Remote, notation: Option<&NotationFiles>) -> Result<()> {
        let mut auths = serde_json::Map::new();
        if let Some(c) = remote.registry.ep.credentials() {
            use base64::Engine as _;
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.user, c.secret));
            auths.insert(remote.registry_address(), serde_json::json!({ "auth": auth }));
        }
        let docker = serde_json::to_vec(&serde_json::json!({ "auths": auths }))?;
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
            // Verification after signing: the chain must lead to the user's root; any identity
            // under it (the trust store holds nothing else).
            let policy = serde_json::json!({"version": "1.0", "trustPolicies": [{
                "name": "migrate", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:migrate"], "trustedIdentities": ["*"]}]});
            write(&format!("{conf}/trustpolicy.json"), &serde_json::to_vec_pretty(&policy)?)?;
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

    /// Each tool: verify first, else sign and verify again.
    /// Each tool: verify first, else sign and verify again. All in one `exec` per digest (an
    /// exec costs ~0.3-1 s on podman), one tool after the other: cosign's bundle and Notation
    /// both update the digest's referrers tag, which concurrent writers would race on.
    fn sign(&self, sh: &Shell, reference: &str, present: &[Artifact], masker: &Masker) -> Result<Vec<ToolResult>> {
        let mut scripts: Vec<(String, String)> = Vec::new();
        if self.keys.cosign.is_some() {
            let bundle_present = present.iter().any(|a| a.kind == "cosign-bundle");
            for format in self.keys.format().formats() {
                let script = cosign_script(&self.cosign_key(), format, self.plain_http, bundle_present, reference);
                scripts.push((format!("cosign-{format}"), script));
            }
        }
        if self.keys.notation.is_some() {
            let insecure = if self.plain_http { " --insecure-registry" } else { "" };
            let r = util::shell_quote(reference);
            let script =
                once_script(&format!("notation verify{insecure} {r}"), &format!("notation sign{insecure} {r}"), true);
            scripts.push(("notation".into(), script));
        }
        let out = self.exec(sh, &per_kind_script(&scripts), None)?;
        Ok(scripts.iter().map(|(kind, _)| result_of(kind, &out.combined(), masker)).collect())
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

/// Runs each `(kind, script)` in a subshell, one after the other, every output line prefixed
/// with `<kind>| ` so that [`result_of`] can tell them apart.
fn per_kind_script(scripts: &[(String, String)]) -> String {
    scripts.iter().map(|(kind, script)| format!("( {script}\n) 2>&1 | sed 's/^/{kind}| /'\n")).collect()
}

/// One kind's outcome from [`per_kind_script`]'s output: its last `@@` line, or a failure with
/// its lines (masked).
fn result_of(kind: &str, output: &str, masker: &Masker) -> ToolResult {
    let prefix = format!("{kind}| ");
    let lines: Vec<&str> = output.lines().filter_map(|l| l.strip_prefix(&prefix)).collect();
    let last = lines.iter().rev().find(|l| l.starts_with("@@ ")).map(|l| l.trim_start_matches("@@ "));
    let outcome = match last {
        Some("already") => Outcome::AlreadySigned,
        Some("signed") => Outcome::Signed,
        _ => Outcome::Failed(
            masker.mask(&lines.iter().filter(|l| !l.starts_with("@@")).copied().collect::<Vec<_>>().join(" | ")),
        ),
    };
    ToolResult { kind: kind.into(), outcome, artifacts: vec![], attributed: true }
}

/// cosign in one format. Measured with cosign 3.1.1: `verify --new-bundle-format=false` accepts
/// only the legacy `.sig` signature, while the default `verify` accepts either; so a bundle
/// counts as there only when the registry holds a bundle referrer (`bundle_present`, read by
/// the caller) and the default verify passes.
///
/// ADOPTION POINT (issue 18): replace with issue 18's shared cosign signing (its
/// `--cosign-format bundle|legacy|both`) once it is on main.
fn cosign_script(key: &str, format: &str, plain_http: bool, bundle_present: bool, reference: &str) -> String {
    let insecure = if plain_http { " --allow-insecure-registry --allow-http-registry" } else { "" };
    let legacy = if format == "legacy" { " --new-bundle-format=false" } else { "" };
    let r = util::shell_quote(reference);
    let verify = format!("cosign verify --key {SHM}/cosign.pub --insecure-ignore-tlog=true{legacy}{insecure} {r}");
    let sign = format!(
        "cosign sign --yes --key {} --use-signing-config=false --tlog-upload=false{legacy}{insecure} {r}",
        util::shell_quote(key)
    );
    // No bundle referrer: nothing to find, and the first verify could pass on a legacy signature.
    once_script(&verify, &sign, format != "bundle" || bundle_present)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_verifies_the_format_it_would_sign() {
        let legacy = cosign_script("/migrate/keys/cosign.key", "legacy", false, true, "reg:5000/a@sha256:ab");
        assert!(legacy.contains("verify --key /dev/shm/migrate/cosign.pub --insecure-ignore-tlog=true --new-bundle-format=false 'reg:5000/a@sha256:ab'"), "{legacy}");
        assert!(legacy.contains("sign --yes --key '/migrate/keys/cosign.key' --use-signing-config=false --tlog-upload=false --new-bundle-format=false"), "{legacy}");
        assert!(!legacy.contains("allow-http"), "a TLS registry is never reached insecurely");
        let bundle = cosign_script("awskms:///alias/k", "bundle", false, true, "reg:5000/a@sha256:ab");
        assert!(bundle.contains("--key 'awskms:///alias/k'") && !bundle.contains("new-bundle-format"), "{bundle}");
        assert!(bundle.find("@@ already").unwrap() < bundle.find("cosign sign").unwrap(), "verified first");
        let absent = cosign_script("k", "bundle", false, false, "reg:5000/a@sha256:ab");
        assert!(!absent.contains("@@ already"), "no bundle referrer: nothing counts as there\n{absent}");
        assert!(absent.contains("cosign sign") && absent.contains("@@ signed"));
        let http = cosign_script("k", "bundle", true, true, "reg/a@sha256:ab");
        assert!(http.contains("--allow-http-registry"), "{http}");
    }

    #[test]
    fn each_tool_runs_in_turn_and_its_outcome_is_read_from_its_own_lines() {
        let scripts = vec![
            ("cosign-bundle".to_string(), once_script("true", "false", false)),
            ("cosign-legacy".to_string(), once_script("true", "true", true)),
            ("notation".to_string(), once_script("false", "echo pw-0123456789abcdef; false", true)),
        ];
        let out = std::process::Command::new("sh").arg("-c").arg(per_kind_script(&scripts)).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        let masker = Masker::new(&["pw-0123456789abcdef".to_string()]);
        let results: Vec<ToolResult> = scripts.iter().map(|(k, _)| result_of(k, &text, &masker)).collect();
        assert!(matches!(&results[0].outcome, Outcome::Failed(m) if m.is_empty() || !m.contains("@@")), "{results:?}");
        assert_eq!(results[1].outcome, Outcome::AlreadySigned);
        let Outcome::Failed(m) = &results[2].outcome else { panic!("{results:?}") };
        assert!(m.contains("***") && !m.contains("pw-0123456789abcdef"), "{m}");
    }
}
