//! How each column checks a staged row: the way its consumers pull. A column ends with the digest
//! the consumer got (or a refusal); the outcome follows from the row's kind and the digest it
//! wanted, the stage from where it stopped.

use anyhow::{bail, Result};

use super::super::consumer;
use super::super::signing::{self, Format};
use super::stage::Staged;
use super::{Cell, Column, Ctx, MeasuredCell, Row, RowKind};
use crate::engine::Output;
use crate::step::clock;
use crate::ui;
use crate::util::shell_quote;

/// What consumers print when a blob does not match the digest they checked.
const CONTENT_REFUSALS: &[&str] = &[
    "filesystem layer verification failed",
    "Digest did not match",
    "digest did not match",
    "verification failed for digest",
];

/// The Go programs a check runs, which only the emulator can shift (see `crate::step::clock`).
const GO_PROGRAMS: &[&str] = &["docker", "notary", "cosign", "notation"];

/// `script`, with its clock at `shift` when one is given: the scenarios' own wrap, so every
/// column that can be shifted sees the same time (Go programs under qemu-user with libfaketime
/// preloaded into the emulator).
pub fn with_clock(script: String, shift: &str) -> Result<String> {
    if shift.is_empty() {
        return Ok(script);
    }
    Ok(clock::wrap(&script, shift, clock::Arch::host()?, GO_PROGRAMS))
}

/// Client-side: no local copy of `repo`, then `docker pull reference` (trust as the environment
/// says: on by default in the client).
pub fn pull_script(repo: &str, reference: &str, trust: bool) -> String {
    let off = if trust { "" } else { "DOCKER_CONTENT_TRUST=0 " };
    format!(
        "ids=$(docker image ls -q {r} | sort -u); [ -z \"$ids\" ] || docker image rm -f $ids >/dev/null\n{off}docker pull {}",
        shell_quote(reference),
        r = shell_quote(repo),
    )
}

/// The digest a consumer's output names: docker's `Digest:` line, a pull by digest, cosign's
/// verified manifest digest, Notation's verified reference, or our own `digest=` line.
pub fn digest_in(output: &str) -> Option<String> {
    let patterns = [
        r"digest=(sha256:[0-9a-f]{64})",
        r"Digest: (sha256:[0-9a-f]{64})",
        r#""docker-manifest-digest":"(sha256:[0-9a-f]{64})""#,
        r"Successfully verified signature for \S+@(sha256:[0-9a-f]{64})",
        r"Pull \(1 of 1\): \S+@(sha256:[0-9a-f]{64})",
    ];
    patterns
        .iter()
        .find_map(|p| regex_lite::Regex::new(p).expect("valid regex").captures(output).map(|c| c[1].to_string()))
}

/// Go's resolver and glibc's words for a name that did not resolve.
fn name_lookup_failed(output: &str) -> bool {
    output.contains("no such host") || output.contains("Temporary failure in name resolution")
}

/// The line that carries `wanted` when the tool printed it, else its last meaningful line.
pub fn key_line(output: &str, wanted: &str) -> String {
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let pick = lines.iter().find(|l| l.contains(wanted)).or_else(|| {
        lines.iter().rev().find(|l| !l.starts_with("WARNING") && !l.starts_with("Warning") && !l.starts_with('['))
    });
    pick.copied().unwrap_or("").chars().take(240).collect()
}

/// One stage of a column, repeated (at most twice) when a sandbox name did not resolve: podman's
/// aardvark-dns, shared by every podman network on the host, was seen failing one lookup while
/// other networks came and went, and a refusal must come from the consumer's judgement.
fn attempt(what: &str, run: &dyn Fn() -> Result<Output>) -> Result<Output> {
    let mut out = run()?;
    for _ in 0..2 {
        if !name_lookup_failed(&out.combined()) {
            break;
        }
        ui::warn(format!("{what} could not resolve a sandbox name; checking again"));
        std::thread::sleep(std::time::Duration::from_secs(1));
        out = run()?;
    }
    Ok(out)
}

/// The outcome of a column that ended with `got` (a digest, or nothing when it failed).
pub fn outcome(kind: RowKind, wanted: &str, got: Option<&str>) -> &'static str {
    let took_it = got == Some(wanted);
    match (kind, took_it) {
        (RowKind::Attack, true) => "attack-accepted",
        (RowKind::Attack, false) => "attack-refused",
        (RowKind::Good, true) => "good-accepted",
        (RowKind::Good, false) => "good-refused",
    }
}

/// Where a refusal came from: a blob against its digest, else the signature (or signed
/// metadata); nothing when the consumer took the image it was given.
pub fn stage_of(outcome: &str, text: &str) -> &'static str {
    if !outcome.ends_with("refused") {
        ""
    } else if CONTENT_REFUSALS.iter().any(|c| text.contains(c)) {
        "content"
    } else {
        "signature"
    }
}

/// Runs one column on a staged row.
pub fn check(ctx: &Ctx<'_, '_>, row: &Row, column: &Column, st: &Staged) -> Result<MeasuredCell> {
    let tag_ref = format!("{}:{}", st.repo, row.check_tag);
    let shift = if column.clock { st.shift } else { "" };
    let started = std::time::Instant::now();
    let signers = |script: String| -> Result<Output> {
        let script = with_clock(script, shift)?;
        attempt(&column.id, &|| ctx.signers.script(&script, &[], false))
    };
    let client = |script: String| -> Result<Output> {
        let script = with_clock(script, shift)?;
        attempt(&column.id, &|| ctx.client(&script, &[]))
    };
    let consumer = |script: &str| attempt(&column.id, &|| ctx.consumer.exec(script, &[&tag_ref]));
    // A verifier, then a plain pull of the digest it verified (no trust: the digest is the check).
    let verify_then_pull = |format: Format| -> Result<(Output, String)> {
        let keys = ctx.signers.keys();
        let argv = signing::verify_argv(format, &signing::Registry::plain_http(), &keys, &tag_ref);
        let verified = signers(argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "))?;
        let mut text = verified.combined();
        let Some(digest) = verified.ok().then(|| digest_in(&text)).flatten() else { return Ok((verified, text)) };
        let pulled =
            attempt(&column.id, &|| ctx.client(&pull_script(&st.repo, &format!("{}@{digest}", st.repo), false), &[]))?;
        text.push('\n');
        text.push_str(&pulled.combined());
        Ok((pulled, text))
    };
    let (out, text) = match column.id.as_str() {
        "dct" => {
            let o = client(pull_script(&st.repo, &tag_ref, true))?;
            let t = o.combined();
            (o, t)
        }
        // The bundle is cosign's default read; it falls back to the `.sig` tag when no bundle is there.
        "cosign" => verify_then_pull(Format::CosignBundle)?,
        "notation" => verify_then_pull(Format::Notation)?,
        "skopeo" | "podman" => {
            let o = consumer(if column.id == "skopeo" { consumer::SKOPEO_PULL } else { consumer::PODMAN_PULL })?;
            let t = o.combined();
            (o, t)
        }
        "docker29" => {
            let o = client(pull_script(&st.repo, &tag_ref, false))?;
            let t = o.combined();
            (o, t)
        }
        other => bail!("comparison.toml names column `{other}`, which compare does not know how to check"),
    };
    let seconds = started.elapsed().as_secs_f64();
    let digest = if out.ok() { digest_in(&out.combined()) } else { None };
    let outcome = outcome(row.kind, &st.wanted, digest.as_deref());
    let stage = stage_of(outcome, &text);
    let recorded: Cell = row.cells[&column.id].clone();
    let as_recorded = recorded.outcome == outcome && recorded.stage == stage && text.contains(&recorded.message);
    Ok(MeasuredCell {
        column: column.id.clone(),
        outcome: outcome.into(),
        stage: stage.into(),
        exit_code: out.code,
        digest,
        message: key_line(&text, &recorded.message),
        as_recorded,
        recorded,
        seconds,
    })
}
