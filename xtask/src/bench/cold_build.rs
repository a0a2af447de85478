//! `--cold-build`: building and loading every image from empty caches, against plain
//! `mmdebstrap` runs with the same pins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use xshell::Shell;

use super::report::{Goal, Row, Stats};
use super::{checked, secs_since, THROWAWAY_REPO};
use crate::engine::Engine;
use crate::images::{self, debian, sources};
use crate::table::Spec;
use crate::ui;

/// Cold means no cache at all: a fresh cache directory (tarballs and .debs), so the real cache and
/// the images running sandboxes use stay as they are.
pub(super) fn cold_build_row(sh: &Shell, engine: &Engine, spec: &Spec, runs: usize) -> Row {
    let mut row = Row::new(
        "cold_build",
        "cold build, all images",
        "s",
        Goal::MaxValue(90.0),
        "plain `mmdebstrap --variant --include=<pins> <suite> out.tar <host sources>` per image",
    );
    let (mut ours, mut plain) = (vec![], vec![]);
    let mut detail: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in 1..=runs {
        match cold_build_once(sh, engine, spec, &mut detail) {
            Ok((o, p)) => {
                ui::info("Bench", format!("cold build {i}/{runs}: {o:.1} s (plain mmdebstrap {p:.1} s)"));
                ours.push(o);
                plain.push(p);
            }
            Err(e) => {
                row.fail(&e);
                break;
            }
        }
    }
    row.set(&ours, &plain);
    for (k, v) in detail {
        if let Some(s) = Stats::of(&v) {
            row.detail.insert(k, s.median);
        }
    }
    row
}

/// Ours first, then the baseline: a mirror or proxy warmed by ours can only flatter the baseline.
fn cold_build_once(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    detail: &mut BTreeMap<String, Vec<f64>>,
) -> Result<(f64, f64)> {
    let lock = crate::images::lock::load()?;
    let tmp = tempfile::Builder::new().prefix("trust-sandbox-bench-").tempdir().context("creating a scratch dir")?;
    let builder = debian::Builder { lock: &lock, cache_dir: tmp.path().join("debian"), mirrors: vec![] };
    // The real path: shared base, per-image layers, one archive loaded into the engine; under
    // throwaway names so the sandbox's own images stay as they are.
    let missing: Vec<(&str, String)> =
        spec.image_names().into_iter().map(|i| Ok((i, lock.tag(i)?))).collect::<Result<_>>()?;
    let prefix = format!("{THROWAWAY_REPO}/");
    let mark = crate::timing::phases().len();
    let t = Instant::now();
    let loaded = images::load_debian(sh, engine, spec, &builder, &missing, false, &prefix);
    let ours = secs_since(t);
    // The builder's own record of this build: the base, each image, the load.
    for phase in &crate::timing::phases()[mark..] {
        detail.entry(phase.name.clone()).or_default().push(phase.secs);
    }
    for (image, tag) in &missing {
        let reference = format!("{prefix}{image}:{tag}");
        if let Err(e) = engine.rmi(sh, &reference) {
            ui::warn(format!("removing {reference}: {e:#}"));
        }
    }
    loaded.context("building and loading the images")?;
    detail.entry("build and load, all images".to_string()).or_default().push(ours);

    let sources_file = tmp.path().join("host.sources");
    let host = sources::from_host(Path::new("/etc/apt"), &lock.debian.suite)?;
    std::fs::write(&sources_file, sources::render_deb822(&host)).context("writing apt sources")?;
    let mut plain = 0.0;
    for image in spec.image_names() {
        let out: PathBuf = tmp.path().join(format!("plain-{image}.tar"));
        let t = Instant::now();
        let mut c = Command::new("mmdebstrap");
        c.arg(format!("--variant={}", lock.debian.variant))
            .arg(format!("--include={}", lock.apt_pins(image)?.join(",")))
            .arg(&lock.debian.suite)
            .arg(&out)
            .arg(&sources_file);
        checked(&mut c).with_context(|| format!("plain mmdebstrap for {image}"))?;
        let took = secs_since(t);
        let _ = std::fs::remove_file(&out);
        detail.entry(format!("{image} plain mmdebstrap")).or_default().push(took);
        plain += took;
    }
    Ok((ours, plain))
}
