//! After `--apply` signs a digest: the digest pulled through a pull-time policy, as the
//! enforcement point runs it. A signature counts only if the thing that enforces it can read it,
//! and containers/image (podman, CRI-O, skopeo, buildah) reads only cosign's `.sig` format.
//!
//! `migrate`'s consumer kit is rendered for the user's registry and key (a default-reject
//! `policy.json` with a `sigstoreSigned` requirement for the registry, `registries.d` reading
//! sigstore attachments) and written to `--kit DIR`; skopeo in `migrate`'s consumer container
//! pulls each digest through it. The container runs on the host's network (it reaches the
//! registry as the signers do); the registry's CA goes to `certs.d`, its credentials to
//! `/dev/shm` through stdin (never argv, never a file on the host).

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use xshell::Shell;

use super::Remote;
use crate::migrate::consumer::{self, Consumer, SKOPEO_PULL};
use crate::migrate::kit;
use crate::migrate::signers::ImageChoice;
use crate::sandbox::Sandbox;
use crate::step::mask::Masker;

/// The registry's credentials in the consumer container (containers/image reads a docker
/// `config.json` as its auth file).
const AUTH_FILE: &str = "/dev/shm/migrate/auth.json";

/// What the pull-time policy made of one digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPull {
    /// The enforcement point: `skopeo copy` through the kit's `policy.json`.
    pub tool: String,
    pub accepted: bool,
    /// Why it refused (its last lines, masked).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The consumer container on the host's network, set up for the user's registry.
pub struct PolicyConsumer<'a> {
    consumer: Consumer<'a>,
    masker: Masker,
}

impl<'a> PolicyConsumer<'a> {
    /// Writes the kit to `dir` (refusing a policy that would accept an unsigned image), then
    /// starts the consumer with it, the registry's CA and its credentials.
    pub fn start(
        sh: &Shell,
        sb: &'a Sandbox,
        choice: &ImageChoice,
        remote: &Remote,
        registry_ca: Option<&Path>,
        input: &kit::Input,
        dir: &Path,
    ) -> Result<PolicyConsumer<'a>> {
        kit::preflight(dir)?;
        let image = consumer::image(sh, sb, choice)?;
        kit::write(dir, &kit::render(input)?)?;
        let c = PolicyConsumer {
            consumer: Consumer::start_on_host(sh, sb, &image, dir)?,
            masker: Masker::new(&remote.secrets()),
        };
        if let Some(ca) = registry_ca {
            let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("reading {}: {e}", ca.display()))?;
            c.write(sh, &format!("/etc/containers/certs.d/{}/ca.crt", remote.registry_address()), &pem)?;
        }
        c.write(sh, AUTH_FILE, &remote.docker_config()?)?;
        Ok(c)
    }

    fn write(&self, sh: &Shell, path: &str, bytes: &[u8]) -> Result<()> {
        let script = format!("umask 077 && mkdir -p \"$(dirname '{path}')\" && cat > '{path}'");
        let c = &self.consumer;
        let out = c.sb.engine.exec(sh, &c.container, &["sh", "-c", &script], &[], Some(bytes))?;
        if !out.ok() {
            bail!("writing {path} in the consumer container: {}", self.masker.mask(out.combined().trim()));
        }
        Ok(())
    }

    /// `skopeo copy` of `reference` (by digest) through the policy.
    pub fn pull(&self, reference: &str) -> Result<PolicyPull> {
        let script = format!("export REGISTRY_AUTH_FILE={AUTH_FILE}\n{SKOPEO_PULL}");
        let out = self.consumer.exec(&script, &[reference])?;
        Ok(judge(out.ok(), &out.combined(), reference, &self.masker))
    }

    pub fn stop(&self, sh: &Shell) {
        self.consumer.stop(sh);
    }
}

/// Accepted only when skopeo succeeded and fetched the manifest of the digest asked for.
fn judge(ok: bool, output: &str, reference: &str, masker: &Masker) -> PolicyPull {
    let want = reference.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let got = output.lines().find_map(|l| l.strip_prefix("digest=")).map(str::trim);
    let accepted = ok && !want.is_empty() && got == Some(want);
    let detail = if accepted {
        String::new()
    } else {
        let tail: Vec<&str> = output.lines().rev().filter(|l| !l.trim().is_empty()).take(2).collect();
        masker.mask(&tail.into_iter().rev().collect::<Vec<_>>().join(" | "))
    };
    PolicyPull { tool: "skopeo (policy.json)".into(), accepted, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_only_for_the_digest_asked_for() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = format!("127.0.0.1:5000/app/web@{d}");
        let m = Masker::new(&["pw-0123456789abcdef".to_string()]);
        assert!(judge(true, &format!("Copying blob\ndigest={d}\n"), &r, &m).accepted);
        let other = format!("digest=sha256:{}", "b".repeat(64));
        assert!(!judge(true, &other, &r, &m).accepted, "another manifest is not the one signed");
        let refused =
            judge(false, "FATA[0000] A signature was required, but no signature exists pw-0123456789abcdef", &r, &m);
        assert!(!refused.accepted && refused.detail.contains("no signature exists"), "{refused:?}");
        assert!(!refused.detail.contains("pw-0123456789abcdef"), "masked: {refused:?}");
    }
}
