//! Staging one comparison row: the signed image, then the row's attack. Returns what the columns
//! check against.

use anyhow::{bail, Context, Result};

use super::super::signing::{self, DigestRef, Format};
use super::{Ctx, Row, CLOCK_SHIFT};
use crate::engine::Output;
use crate::step;

/// What a row's columns check: the repository, the digest DCT signed, the digest the row wants a
/// consumer to end up with, and the clock shift (if any).
pub struct Staged {
    pub repo: String,
    pub signed: String,
    pub wanted: String,
    pub shift: &'static str,
}

/// Client-side: removes the repository "$1"'s trust data (Notary server "$2") and local images (a
/// fresh start each run).
const RESET: &str = r#"cfg="${DOCKER_CONFIG:-$HOME/.docker}"
notary -s "$2" -d "$cfg/trust" --tlscacert /etc/sandbox/ca.crt delete "$1" --remote >/dev/null 2>&1 || true
ids=$(docker image ls -q "$1" | sort -u); [ -z "$ids" ] || docker image rm -f $ids >/dev/null"#;

/// Client-side: builds a unique one-file image as "$1:$2" (label "$3") and pushes it; DCT signs
/// unless "$4" is `unsigned`. Prints `digest=<digest>`.
const BUILD_PUSH: &str = r#"set -e
d=$(mktemp -d); echo "trust-sandbox compare $3 $(date +%s%N) $$" > "$d/nonce"
tar -C "$d" -c . | docker import - "$1:$2" >/dev/null; rm -rf "$d"
if [ "$4" = unsigned ]; then export DOCKER_CONTENT_TRUST=0; fi
docker push "$1:$2" > /tmp/push.log 2>&1 || { cat /tmp/push.log; exit 1; }
sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/digest=\1/p' /tmp/push.log"#;

/// Client-side: the attacker re-initialises "$1" under her own root (Notary server "$3") and
/// pushes her image to "$1:$2". Prints `digest=<digest>`.
const MALLORY_PUSH: &str = r#"set -e
export DOCKER_CONFIG=/tmp/compare-mallory; rm -rf "$DOCKER_CONFIG"; mkdir -p "$DOCKER_CONFIG"
cp -r "$HOME/.docker/tls" "$DOCKER_CONFIG/tls"
notary -s "$3" -d "$DOCKER_CONFIG/trust" --tlscacert /etc/sandbox/ca.crt delete "$1" --remote >/dev/null
d=$(mktemp -d); echo "mallory $(date +%s%N) $$" > "$d/nonce"
tar -C "$d" -c . | docker import - "$1:$2" >/dev/null; rm -rf "$d"
docker push "$1:$2" > /tmp/push.log 2>&1 || { cat /tmp/push.log; exit 1; }
sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/digest=\1/p' /tmp/push.log"#;

/// Signers-side: the attacker's own cosign key (both formats) and Notation test certificate sign "$1".
const MALLORY_SIGN: &str = r#"set -e
export XDG_CONFIG_HOME=/tmp/compare-mallory; rm -rf "$XDG_CONFIG_HOME"; mkdir -p "$XDG_CONFIG_HOME"; cd "$XDG_CONFIG_HOME"
cosign generate-key-pair --output-key-prefix mallory >/dev/null 2>&1
cosign sign --yes --key mallory.key --use-signing-config=false --tlog-upload=false --allow-insecure-registry --allow-http-registry "$1" >/dev/null 2>&1
cosign sign --yes --key mallory.key --use-signing-config=false --tlog-upload=false --new-bundle-format=false --allow-insecure-registry --allow-http-registry "$1" >/dev/null 2>&1
notation cert generate-test --default mallory >/dev/null
notation sign --insecure-registry "$1" >/dev/null
echo signed"#;

/// Registry-side: overwrites the first bytes of blob "$1" in place (same size, other content).
const TAMPER: &str = r#"set -e
hex=${1#sha256:}
blob=/var/lib/registry/docker/registry/v2/blobs/sha256/$(printf '%s' "$hex" | cut -c1-2)/$hex/data
[ -f "$blob" ] || { echo "no blob at $blob" >&2; exit 1; }
printf 'TAMPERED' | dd of="$blob" bs=1 conv=notrunc 2>/dev/null
echo "after=sha256:$(sha256sum "$blob" | cut -d' ' -f1)""#;

impl Ctx<'_, '_> {
    /// A script in the client, run as a scenario step is: a signal kills its processes there.
    pub fn client(&self, script: &str, args: &[&str]) -> Result<Output> {
        let container = self.sb.container(&self.sb.spec.client()?.name);
        let step = step::Step { container: &container, script, args, env: &self.env };
        step::run(&self.sb.engine, &step, step::NO_LIMIT, &self.masker, false)
    }

    fn client_ok(&self, what: &str, script: &str, args: &[&str]) -> Result<Output> {
        ok(what, self.client(script, args)?)
    }

    fn signers_ok(&self, what: &str, script: &str, args: &[&str]) -> Result<Output> {
        let out = self.signers.script(script, args, true)?;
        if !out.ok() {
            if let Some(stopped) = self.signers.not_running(self.sh) {
                bail!("{what} failed: {stopped} ({})", out.reason());
            }
        }
        ok(what, out)
    }

    fn push(&self, repo: &str, tag: &str, label: &str, signed: bool) -> Result<String> {
        let out = self.client_ok(
            &format!("pushing {repo}:{tag}"),
            BUILD_PUSH,
            &[repo, tag, label, if signed { "signed" } else { "unsigned" }],
        )?;
        digest_of(&out, "the push")
    }

    /// The one signing function, in `formats`; every one must end up signed.
    fn sign(&self, repo: &str, digest: &str, formats: &[Format]) -> Result<()> {
        let r = DigestRef::new(repo, digest)?;
        let results = signing::ensure(
            self.signers,
            self.sh,
            &signing::Registry::plain_http(),
            &self.signers.keys(),
            &r,
            formats,
        )?;
        for res in results.iter().filter(|res| formats.contains(&res.format)) {
            if !res.status.carried() {
                bail!("signing {r} in {} failed: {}", res.format.name(), res.detail);
            }
        }
        Ok(())
    }
}

/// `out` if it succeeded, else an error that says why (never an empty reason).
fn ok(what: &str, out: Output) -> Result<Output> {
    if !out.ok() {
        bail!("{what} failed: {}", out.reason());
    }
    Ok(out)
}

fn digest_of(out: &Output, what: &str) -> Result<String> {
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest="))
        .map(String::from)
        .with_context(|| format!("{what} printed no digest: {}", out.combined().trim()))
}

fn first_layer(manifest: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(manifest).context("parsing the image manifest")?;
    v.pointer("/layers/0/digest").and_then(|d| d.as_str()).map(String::from).context("the manifest names no layer")
}

/// A fresh repository, the signed image on `latest`, then the row's attack.
pub fn stage(ctx: &Ctx<'_, '_>, row: &Row) -> Result<Staged> {
    let repo = format!("{}/compare/{}", ctx.registry, row.id);
    let server = ctx.sb.spec.server_url()?;
    ctx.client_ok("resetting the repository", RESET, &[&repo, &server])?;
    let signed = ctx.push(&repo, "latest", &row.id, true)?;
    ctx.sign(&repo, &signed, &row.signed_with)?;
    let mut shift = "";
    let wanted = match row.id.as_str() {
        "layer-tampered" => {
            let manifest = ctx.signers_ok(
                "reading the manifest",
                r#"crane manifest --insecure "$1""#,
                &[&format!("{repo}@{signed}")],
            )?;
            let layer = first_layer(&manifest.stdout)?;
            let out = ctx.sb.exec(ctx.sh, "registry", &["sh", "-c", TAMPER, "sh", &layer], &[], None)?;
            if !out.ok() || out.stdout.contains(&format!("after={layer}")) {
                bail!("tampering with {layer} failed: {}", out.reason());
            }
            signed.clone()
        }
        "tag-moved" => ctx.push(&repo, "latest", "unsigned", false)?,
        "tag-rollback" => {
            let v2 = ctx.push(&repo, "latest", "v2", true)?;
            ctx.sign(&repo, &v2, &row.signed_with)?;
            ctx.signers_ok(
                "moving the tag back",
                r#"crane tag --insecure "$1" latest"#,
                &[&format!("{repo}@{signed}")],
            )?;
            signed.clone()
        }
        "signature-removed" => {
            ctx.client_ok("revoking", r#"docker trust revoke --yes "$1""#, &[&format!("{repo}:latest")])?;
            let r = DigestRef::new(&repo, &signed)?;
            ctx.signers_ok(
                "deleting the signatures",
                DELETE_SIGNATURES,
                &[&r.referrers_tag(), &r.legacy_tag(), &repo],
            )?;
            signed.clone()
        }
        "metadata-expired" => {
            shift = CLOCK_SHIFT;
            signed.clone()
        }
        "untrusted-key" => {
            let out = ctx.client_ok("the attacker's push", MALLORY_PUSH, &[&repo, "latest", &server])?;
            let m = digest_of(&out, "the attacker's push")?;
            ctx.signers_ok("the attacker's signatures", MALLORY_SIGN, &[&format!("{repo}@{m}")])?;
            m
        }
        "unsigned-new-tag" => ctx.push(&repo, &row.check_tag, "mallory-new", false)?,
        "bundle-only" | "notation-only" => signed.clone(),
        other => bail!("comparison.toml names row `{other}`, which compare does not know how to stage"),
    };
    Ok(Staged { repo, signed, wanted, shift })
}

/// Signers-side: deletes the referrers index "$1" (bundle and Notation referrers) and the `.sig`
/// manifest "$2" of repository "$3" from the registry.
const DELETE_SIGNATURES: &str = r#"set -e
crane delete --insecure "$3@$(crane digest --insecure "$1")"
crane delete --insecure "$3@$(crane digest --insecure "$2")""#;
