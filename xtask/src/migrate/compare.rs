//! `compare`: DCT, cosign and Notation on the same tag under the attacks of
//! `xtask/data/comparison.toml`, measured each run and checked against that file (which the README
//! table is rendered from).
//!
//! Every row starts from a fresh repository `sandboxregistry:5000/compare/<row>`: an image built
//! in the client (a nonce layer, no pull), pushed and signed with DCT, then signed by digest with
//! the sandbox's cosign key and Notation certificate. The row's attack follows, then each tool
//! checks the tag as its consumers would. A tool *accepted* when it succeeded and named the digest
//! the attacker wanted accepted; anything else is *refused*.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xshell::Shell;

use super::signers::Signers;
use super::tools::{self, Tool};
use crate::sandbox::Sandbox;
use crate::scenario::mask::Masker;
use crate::scenario::{clock, step_process};
use crate::ui;
use crate::util::shell_quote;

pub const DATA: &str = include_str!("../../data/comparison.toml");
/// The clock shift of the freshness row: one day past the 14 days a Notary timestamp lives.
pub const CLOCK_SHIFT: &str = "+15d";
const COLUMNS: [&str; 3] = ["dct", "cosign", "notation"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Refused,
    Accepted,
}

impl Verdict {
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Refused => "✓ refused",
            Verdict::Accepted => "✗ accepted",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    pub verdict: Verdict,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub id: String,
    pub attack: String,
    pub how: String,
    pub dct: Cell,
    pub cosign: Cell,
    pub notation: Cell,
    pub note: String,
}

impl Row {
    pub fn cell(&self, column: &str) -> &Cell {
        match column {
            "dct" => &self.dct,
            "cosign" => &self.cosign,
            _ => &self.notation,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub rows: Vec<Row>,
}

pub fn expected() -> Result<Expected> {
    let e: Expected = toml::from_str(DATA).context("parsing xtask/data/comparison.toml")?;
    if e.rows.is_empty() {
        bail!("xtask/data/comparison.toml has no rows");
    }
    Ok(e)
}

/// The README's matrix, rendered from the data file.
pub fn markdown(e: &Expected) -> String {
    let mut s =
        String::from("| Attack | DCT (docker pull) | cosign verify | notation verify |\n| --- | --- | --- | --- |\n");
    for r in &e.rows {
        let cell = |c: &Cell| format!("{} — `{}`", c.verdict.mark(), c.message);
        s.push_str(&format!(
            "| **{}**: {} | {} | {} | {} |\n",
            r.attack,
            r.how,
            cell(&r.dct),
            cell(&r.cosign),
            cell(&r.notation)
        ));
    }
    s.push('\n');
    for r in &e.rows {
        s.push_str(&format!("- *{}*: {}.\n", r.attack, r.note));
    }
    s
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasuredCell {
    pub tool: String,
    pub verdict: Verdict,
    pub exit_code: i32,
    /// The line of the tool's output that says what happened.
    pub message: String,
    /// Whether verdict and message are what comparison.toml (and the README) state.
    pub as_recorded: bool,
    pub recorded: Cell,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasuredRow {
    pub id: String,
    pub attack: String,
    pub repository: String,
    pub signed_digest: String,
    /// The digest the attack wants a verifier to accept.
    pub attacker_digest: String,
    pub cells: Vec<MeasuredCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub sandbox: String,
    pub clock_shift: String,
    /// The signal that ended the comparison early; `rows` then holds the rows measured until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub rows: Vec<MeasuredRow>,
    /// Every row measured and every cell as recorded (false for an interrupted comparison).
    pub as_recorded: bool,
}

/// Client-side: removes the trust data of repository "$1" on the Notary server "$2" and its local
/// images (a fresh start each run).
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

/// Client-side: the attacker re-initialises "$1" on the Notary server "$3" under her own root and
/// pushes her image to "$1:$2". Prints `digest=<digest>`.
const MALLORY_PUSH: &str = r#"set -e
export DOCKER_CONFIG=/tmp/compare-mallory; rm -rf "$DOCKER_CONFIG"; mkdir -p "$DOCKER_CONFIG"
cp -r "$HOME/.docker/tls" "$DOCKER_CONFIG/tls"
notary -s "$3" -d "$DOCKER_CONFIG/trust" --tlscacert /etc/sandbox/ca.crt delete "$1" --remote >/dev/null
d=$(mktemp -d); echo "mallory $(date +%s%N) $$" > "$d/nonce"
tar -C "$d" -c . | docker import - "$1:$2" >/dev/null; rm -rf "$d"
docker push "$1:$2" > /tmp/push.log 2>&1 || { cat /tmp/push.log; exit 1; }
sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/digest=\1/p' /tmp/push.log"#;

/// Signers-side: the attacker's own cosign key and Notation test certificate sign "$1".
const MALLORY_SIGN: &str = r#"set -e
export XDG_CONFIG_HOME=/tmp/compare-mallory; rm -rf "$XDG_CONFIG_HOME"; mkdir -p "$XDG_CONFIG_HOME"; cd "$XDG_CONFIG_HOME"
cosign generate-key-pair --output-key-prefix mallory >/dev/null 2>&1
cosign sign --yes --key mallory.key --use-signing-config=false --tlog-upload=false --allow-insecure-registry --allow-http-registry "$1" >/dev/null 2>&1
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

/// Client-side DCT check of `repo`:latest: no local copy, then a trusted pull.
fn dct_check(repo: &str) -> String {
    let r = shell_quote(repo);
    format!(
        "ids=$(docker image ls -q {r} | sort -u); [ -z \"$ids\" ] || docker image rm -f $ids >/dev/null\ndocker pull {}",
        shell_quote(&format!("{repo}:latest"))
    )
}

/// The Go programs a comparison runs, which only the emulator can shift (see `scenario::clock`).
const GO_PROGRAMS: &[&str] = &["docker", "notary", "cosign", "notation"];

/// `script`, with its clock at `shift` when one is given: the scenarios' own wrap, so the DCT
/// column and the signers' columns see the same shifted time (Go programs under qemu-user with
/// libfaketime preloaded into the emulator).
fn with_clock(script: String, shift: &str) -> Result<String> {
    if shift.is_empty() {
        return Ok(script);
    }
    Ok(clock::wrap(&script, shift, clock::Arch::host()?, GO_PROGRAMS))
}

fn digest_of(out: &crate::engine::Output, what: &str) -> Result<String> {
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest="))
        .map(String::from)
        .with_context(|| format!("{what} printed no digest: {}", out.combined().trim()))
}

struct Ctx<'a, 'b> {
    sh: &'a Shell,
    sb: &'a Sandbox,
    signers: &'a Signers<'b>,
    env: Vec<(String, String)>,
    masker: Masker,
}

/// `out` if it succeeded, else an error that says why (never an empty reason).
fn succeeded(what: &str, out: crate::engine::Output) -> Result<crate::engine::Output> {
    if !out.ok() {
        bail!("{what} failed: {}", out.reason());
    }
    Ok(out)
}

impl Ctx<'_, '_> {
    /// A script in the client, run as a scenario step is: a signal kills its processes there.
    fn client(&self, script: &str, args: &[&str]) -> Result<crate::engine::Output> {
        let container = self.sb.container(&self.sb.spec.client()?.name);
        let step = step_process::Step { container: &container, script, args, env: &self.env };
        step_process::run(&self.sb.engine, &step, step_process::NO_LIMIT, &self.masker, false)
    }

    fn client_ok(&self, what: &str, script: &str, args: &[&str]) -> Result<crate::engine::Output> {
        succeeded(what, self.client(script, args)?)
    }

    fn signers_ok(&self, what: &str, script: &str, args: &[&str]) -> Result<crate::engine::Output> {
        let out = self.signers.script(script, args, true)?;
        if !out.ok() {
            if let Some(stopped) = self.signers.not_running(self.sh) {
                bail!("{what} failed: {stopped} ({})", out.reason());
            }
        }
        succeeded(what, out)
    }

    /// Signs `digest_ref` with the sandbox's cosign key and Notation certificate.
    fn sign_both(&self, digest_ref: &str) -> Result<()> {
        for tool in [Tool::Cosign, Tool::Notation] {
            self.signers_ok(&format!("{} sign", tool.name()), &tools::shell_line(&tool.sign(digest_ref)), &[])?;
        }
        Ok(())
    }

    fn push(&self, repo: &str, label: &str, signed: bool) -> Result<String> {
        let out = self.client_ok(
            &format!("pushing {repo}:latest"),
            BUILD_PUSH,
            &[repo, "latest", label, if signed { "signed" } else { "unsigned" }],
        )?;
        digest_of(&out, "the push")
    }
}

/// Runs every row; the matrix says whether each cell is as recorded.
pub fn run(sh: &Shell, sb: &Sandbox, signers: &Signers<'_>, only: &[String]) -> Result<Matrix> {
    let expected = expected()?;
    for id in only {
        if !expected.rows.iter().any(|r| &r.id == id) {
            let ids: Vec<&str> = expected.rows.iter().map(|r| r.id.as_str()).collect();
            bail!("unknown comparison row `{id}`; the rows are: {}", ids.join(", "));
        }
    }
    let secrets = sb.secrets()?;
    let ctx = Ctx { sh, sb, signers, env: secrets.client_env(), masker: Masker::new(&secrets.values()) };
    let mut rows = Vec::new();
    let mut interrupted = None;
    for row in expected.rows.iter().filter(|r| only.is_empty() || only.contains(&r.id)) {
        if let Some(sig) = crate::signals::caught() {
            interrupted = Some(sig.name().to_string());
            break;
        }
        ui::status("Comparing", format!("{}: {}", row.id, row.how));
        match run_row(&ctx, row) {
            Ok(r) => rows.push(r),
            // A signal stopped the row half-way (its running command's processes were killed).
            Err(e) if crate::signals::caught().is_some() => {
                ui::warn(format!("comparison row {}: {e:#}", row.id));
                interrupted = crate::signals::caught().map(|s| s.name().to_string());
                break;
            }
            Err(e) => return Err(e.context(format!("comparison row {}", row.id))),
        }
    }
    let as_recorded = interrupted.is_none() && rows.iter().all(|r| r.cells.iter().all(|c| c.as_recorded));
    Ok(Matrix { sandbox: sb.name.clone(), clock_shift: CLOCK_SHIFT.into(), interrupted, rows, as_recorded })
}

fn run_row(ctx: &Ctx<'_, '_>, row: &Row) -> Result<MeasuredRow> {
    let repo = format!("{}/compare/{}", ctx.sb.spec.registry_address()?, row.id);
    let server = ctx.sb.spec.server_url()?;
    ctx.client_ok("resetting the repository", RESET, &[&repo, &server])?;
    let signed = ctx.push(&repo, &row.id, true)?;
    ctx.sign_both(&format!("{repo}@{signed}"))?;
    let mut shift = "";
    let attacker = match row.id.as_str() {
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
        "tag-moved" => ctx.push(&repo, "unsigned", false)?,
        "tag-rollback" => {
            let v2 = ctx.push(&repo, "v2", true)?;
            ctx.sign_both(&format!("{repo}@{v2}"))?;
            ctx.signers_ok(
                "moving the tag back",
                r#"crane tag --insecure "$1" latest"#,
                &[&format!("{repo}@{signed}")],
            )?;
            signed.clone()
        }
        "signature-removed" => {
            ctx.client_ok("revoking", r#"docker trust revoke --yes "$1""#, &[&format!("{repo}:latest")])?;
            let referrers = format!("{repo}:sha256-{}", signed.trim_start_matches("sha256:"));
            ctx.signers_ok(
                "deleting the signatures",
                r#"crane delete --insecure "$2@$(crane digest --insecure "$1")""#,
                &[&referrers, &repo],
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
        other => bail!("comparison.toml names row `{other}`, which compare does not know how to stage"),
    };
    let tag_ref = format!("{repo}:latest");
    let mut cells = Vec::new();
    for column in COLUMNS {
        let script = match column {
            "dct" => dct_check(&repo),
            "cosign" => tools::shell_line(&Tool::Cosign.verify(&tag_ref)),
            _ => tools::shell_line(&Tool::Notation.verify(&tag_ref)),
        };
        let script = with_clock(script, shift)?;
        let check = || -> Result<crate::engine::Output> {
            match column {
                "dct" => ctx.client(&script, &[]),
                _ => ctx.signers.script(&script, &[], false),
            }
        };
        let started = std::time::Instant::now();
        let mut out = check()?;
        // A refusal must come from the tool's judgement, not from the network: podman's
        // aardvark-dns, shared by every podman network on the host, was seen failing one lookup
        // while other networks came and went. Such a check is repeated (at most twice).
        for _ in 0..2 {
            if !name_lookup_failed(&out.combined()) {
                break;
            }
            ui::warn(format!("{column} could not resolve a sandbox name in {}; checking again", row.id));
            std::thread::sleep(std::time::Duration::from_secs(1));
            out = check()?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let text = out.combined();
        let verdict = if out.ok() && text.contains(&attacker) { Verdict::Accepted } else { Verdict::Refused };
        let recorded = row.cell(column).clone();
        let message = key_line(&text, &recorded.message);
        let as_recorded = verdict == recorded.verdict && text.contains(&recorded.message);
        cells.push(MeasuredCell {
            tool: column.into(),
            verdict,
            exit_code: out.code,
            message,
            as_recorded,
            recorded,
            seconds,
        });
    }
    Ok(MeasuredRow {
        id: row.id.clone(),
        attack: row.attack.clone(),
        repository: repo,
        signed_digest: signed,
        attacker_digest: attacker,
        cells,
    })
}

/// Go's resolver and glibc's words for a name that did not resolve.
fn name_lookup_failed(output: &str) -> bool {
    output.contains("no such host") || output.contains("Temporary failure in name resolution")
}

fn first_layer(manifest: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(manifest).context("parsing the image manifest")?;
    v.pointer("/layers/0/digest").and_then(|d| d.as_str()).map(String::from).context("the manifest names no layer")
}

/// The line that carries `wanted` when the tool printed it, else its last meaningful line.
pub fn key_line(output: &str, wanted: &str) -> String {
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let pick = lines.iter().find(|l| l.contains(wanted)).or_else(|| {
        lines.iter().rev().find(|l| !l.starts_with("WARNING") && !l.starts_with("Warning") && !l.starts_with('['))
    });
    let line = pick.copied().unwrap_or("");
    // cosign's "error during command execution: …" repeats the "Error: …" line before it.
    line.chars().take(240).collect()
}

/// The measured matrix for a terminal.
pub fn table(m: &Matrix) -> String {
    let mut s = String::new();
    for r in &m.rows {
        s.push_str(&format!("{} ({})\n", r.attack, r.id));
        for c in &r.cells {
            let flag = if c.as_recorded { "" } else { "   <-- differs from comparison.toml" };
            s.push_str(&format!("  {:<9} {:<11} {}{flag}\n", c.tool, c.verdict.mark(), c.message));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_has_six_rows_with_a_message_in_every_cell() {
        let e = expected().unwrap();
        let ids: Vec<&str> = e.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["layer-tampered", "tag-moved", "tag-rollback", "signature-removed", "metadata-expired", "untrusted-key"]
        );
        for r in &e.rows {
            for c in COLUMNS {
                assert!(!r.cell(c).message.trim().is_empty(), "{} {c}", r.id);
            }
        }
    }

    #[test]
    fn the_readme_holds_the_matrix_rendered_from_the_data_file() {
        let readme = std::fs::read_to_string(crate::table::source_root().join("README.md")).unwrap();
        let table = markdown(&expected().unwrap());
        assert!(
            readme.contains(&table),
            "README.md's comparison table differs from xtask/data/comparison.toml; put this in:\n{table}"
        );
    }

    #[test]
    fn the_key_line_is_the_recorded_one_or_the_last_real_line() {
        let out =
            "WARNING: skipping tlog\nError: no signatures found\nerror during command execution: no signatures found\n";
        assert_eq!(key_line(out, "no signatures found"), "Error: no signatures found");
        assert_eq!(key_line("a\nb\nWarning: tags are mutable\n", "zzz"), "b");
    }

    #[test]
    fn the_clock_is_shifted_only_when_asked_and_reaches_the_go_verifiers() {
        assert_eq!(with_clock("cosign verify x".into(), "").unwrap(), "cosign verify x");
        let w = with_clock("cosign verify x".into(), CLOCK_SHIFT).unwrap();
        assert!(w.contains("for ts_p in docker notary cosign notation; do"), "{w}");
        assert!(w.contains(" -U LD_PRELOAD %s"), "{w}");
        assert!(w.contains(&format!("FAKETIME='{CLOCK_SHIFT}'")), "{w}");
        // Valid sh as a whole (it runs in the client and the signers container, which carry
        // the emulator; the migrate e2e test shows Notation refusing at +3 years through it).
        let status = std::process::Command::new("sh").arg("-n").arg("-c").arg(&w).status().unwrap();
        assert!(status.success(), "{w}");
    }

    #[test]
    fn the_dct_check_pulls_the_tag_with_no_local_copy() {
        let s = dct_check("sandboxregistry:5000/compare/x");
        assert!(
            s.find("docker image rm").unwrap() < s.find("docker pull 'sandboxregistry:5000/compare/x:latest'").unwrap()
        );
    }

    #[test]
    fn only_name_lookups_count_as_network_failures() {
        assert!(name_lookup_failed("dial tcp: lookup notaryserver on 10.255.255.53:53: no such host"));
        assert!(!name_lookup_failed("could not rotate trust to a new trusted root"));
    }

    #[test]
    fn the_first_layer_is_read_from_the_manifest() {
        let m = r#"{"schemaVersion":2,"layers":[{"digest":"sha256:abc","size":1}]}"#;
        assert_eq!(first_layer(m).unwrap(), "sha256:abc");
        assert!(first_layer(r#"{"layers":[]}"#).is_err());
    }
}
