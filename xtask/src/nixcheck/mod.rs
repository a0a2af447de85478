//! `cargo xtask nix-check`: the flake checked by a current Nix that the xtask installs itself
//! (root.rs), against the stand-in nixpkgs (nix/offline/), since our machines cannot fetch the real
//! one: `deadnix`, flake.lock against flake.nix's inputs, `nix flake show`, `nix flake check --no-build --all-systems`, and every
//! package, app, devShell and check of both systems instantiated. Then the drift check (drift.rs) compares the
//! Nix images with the Debian ones.

pub mod drift;
pub mod expected;
pub mod facts;
pub mod flake_lock;
pub mod root;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::table;
use crate::ui;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub yes: bool,
    /// The flake to check (default: this checkout). Only what git tracks is used, as Nix would.
    pub flake: Option<PathBuf>,
    /// Read the Debian side from this JSON (as written by `facts_out`) instead of the layer cache.
    pub debian_facts: Option<PathBuf>,
    /// Write nix-facts.json and debian-facts.json here.
    pub facts_out: Option<PathBuf>,
    pub mirror: Option<String>,
}

const FLAKE: &str = "path:/src";
/// The stand-in nixpkgs replaces the locked one; the lock file stays as it is.
const OFFLINE: [&str; 4] = ["--override-input", "nixpkgs", "path:/src/nix/offline", "--no-write-lock-file"];

pub fn run(sh: &Shell, opts: &Options) -> Result<()> {
    let root = root::ensure(sh, &crate::util::cache_dir(), opts.mirror.as_deref(), opts.yes)?;
    let flake = opts.flake.clone().unwrap_or_else(table::source_root);
    let src = tempfile::tempdir().context("creating a directory for the flake's files")?;
    let files = copy_flake(sh, &flake, src.path())?;
    deadnix(sh, src.path(), opts.yes)?;
    let started = Instant::now();
    let version = in_root(&root, src.path(), None, &["nix", "--version"], "nix --version")?;
    ui::status("Checking", format!("{} ({files} files) with {}", flake.display(), version.trim()));
    check_lock(&root, src.path())?;
    let nix = evaluate(&root, src.path(), started)?;

    let spec = table::load()?;
    let debian = match &opts.debian_facts {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => facts::debian(&spec, &expected::all_library_names())?,
    };
    if let Some(dir) = &opts.facts_out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("nix-facts.json"), serde_json::to_vec_pretty(&nix)?)?;
        std::fs::write(dir.join("debian-facts.json"), serde_json::to_vec_pretty(&debian)?)?;
    }
    let problems = drift::compare(&spec, &debian, &nix);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("  {p}");
        }
        bail!(
            "the Nix and Debian images drifted apart ({} differences above): change both sides together",
            problems.len()
        );
    }
    ui::status(
        "Compared",
        format!(
            "Nix and Debian images agree: {} images on {} systems (config, programs, libraries)",
            spec.images.len(),
            drift::SYSTEMS.len()
        ),
    );
    Ok(())
}

/// flake.lock against the inputs flake.nix declares (the stand-in replaces the locked nixpkgs,
/// so nothing else looks at the lock).
fn check_lock(root: &root::NixRoot, src: &Path) -> Result<()> {
    let argv = ["nix", "eval", "--json", "--file", "/src/flake.nix", "inputs"];
    let inputs = in_root(root, src, None, &argv, "reading flake.nix's inputs")?;
    let inputs: serde_json::Value = serde_json::from_str(&inputs).context("parsing flake.nix's inputs")?;
    let text = std::fs::read_to_string(src.join("flake.lock")).context("reading flake.lock")?;
    let lock: serde_json::Value = serde_json::from_str(&text).context("parsing flake.lock")?;
    let problems = flake_lock::problems(&lock, &inputs);
    if !problems.is_empty() {
        bail!("flake.lock does not lock flake.nix's inputs:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// `nix flake show`, `nix flake check --no-build`, then every output of both systems forced
/// through nix/offline/facts.nix, which also reports what the images are made of.
fn evaluate(root: &root::NixRoot, src: &Path, started: Instant) -> Result<facts::NixFacts> {
    let mut show = vec!["nix", "flake", "show", "--all-systems"];
    show.extend(OFFLINE);
    show.push(FLAKE);
    in_root(root, src, None, &show, "nix flake show")?;

    let mut check = vec!["nix", "flake", "check", "--no-build", "--all-systems"];
    check.extend(OFFLINE);
    check.push(FLAKE);
    let checked = in_root_stderr(root, src, &check, "nix flake check --no-build --all-systems")?;
    let checked_drvs = checked.lines().filter(|l| l.contains("derivation evaluated to")).count();

    // One namespace for the evaluation and the count of what it instantiated.
    let out = tempfile::tempdir().context("creating a directory for the evaluation's results")?;
    let script = format!(
        "set -e; nix eval --json {} '{FLAKE}#.' --apply \"$(cat /src/nix/offline/facts.nix)\" >/out/facts.json; \
         ls /nix/store | grep -c '\\.drv$' >/out/drvs",
        OFFLINE.join(" ")
    );
    in_root(root, src, Some(out.path()), &["sh", "-c", &script], "nix eval (every output)")?;
    let text = std::fs::read_to_string(out.path().join("facts.json")).context("reading the evaluated facts")?;
    let nix: facts::NixFacts = serde_json::from_str(&text).context("parsing the evaluated facts")?;
    let drvs = std::fs::read_to_string(out.path().join("drvs")).unwrap_or_default().trim().to_string();
    let outputs: usize =
        nix.values().map(|s| s.packages.len() + s.apps.len() + s.dev_shells.len() + s.checks.len()).sum();
    ui::status(
        "Evaluated",
        format!(
            "flake show, flake check ({checked_drvs} derivations), {outputs} outputs of {} systems forced \
             ({drvs} derivations instantiated) in {:.1} s",
            nix.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(nix)
}

/// No unused bindings or arguments in the Nix code (the flake's own deadnix check, which needs
/// nixpkgs, does the same where it can run). deadnix comes from crates.io, with consent.
fn deadnix(sh: &Shell, src: &Path, yes: bool) -> Result<()> {
    if which::which("deadnix").is_err() {
        if !crate::host::consent(yes) {
            bail!("deadnix is missing: `cargo install --locked deadnix`, or re-run with --yes");
        }
        ui::status("Installing", "deadnix (cargo install --locked deadnix)");
        cmd!(sh, "cargo install --locked --quiet deadnix").run().context("cargo install deadnix")?;
    }
    // Files, not the directory: deadnix skips hidden directories, and temporary ones are.
    let mut files = Vec::new();
    walk(src, Path::new(""), &mut files)?;
    let files: Vec<PathBuf> =
        files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "nix")).map(|f| src.join(f)).collect();
    let out = cmd!(sh, "deadnix --fail {files...}")
        .env("NO_COLOR", "1")
        .quiet()
        .ignore_status()
        .output()
        .context("running deadnix")?;
    if !out.status.success() {
        bail!("deadnix found unused Nix code:\n{}", String::from_utf8_lossy(&out.stdout).trim_end());
    }
    Ok(())
}

fn in_root(root: &root::NixRoot, src: &Path, out: Option<&Path>, argv: &[&str], what: &str) -> Result<String> {
    let o = root.nix(src, out, argv)?;
    if !o.ok {
        bail!("{what} failed in the Nix root:\n{}", tail(&o.stderr, 40));
    }
    Ok(o.stdout)
}

/// Like in_root, for commands that report on stderr (`nix flake check`).
fn in_root_stderr(root: &root::NixRoot, src: &Path, argv: &[&str], what: &str) -> Result<String> {
    let mut argv = argv.to_vec();
    argv.insert(1, "--print-build-logs");
    argv.insert(1, "-v");
    let o = root.nix(src, None, &argv)?;
    if !o.ok {
        bail!("{what} failed in the Nix root:\n{}", tail(&o.stderr, 40));
    }
    Ok(o.stderr)
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("evaluating ")).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Copies the files a flake would see: in a git checkout the tracked ones (working-tree
/// contents, as Nix reads a dirty tree), elsewhere everything but .git and target/.
fn copy_flake(sh: &Shell, from: &Path, to: &Path) -> Result<usize> {
    let paths: Vec<PathBuf> = if from.join(".git").exists() {
        let listed = cmd!(sh, "git -C {from} ls-files -z").quiet().read().context("listing the flake's files")?;
        listed.split('\0').filter(|p| !p.is_empty()).map(PathBuf::from).collect()
    } else {
        let mut all = Vec::new();
        walk(from, Path::new(""), &mut all)?;
        all
    };
    let mut copied = 0;
    for rel in paths {
        let source = from.join(&rel);
        let meta = match std::fs::symlink_metadata(&source) {
            Ok(m) => m,
            // Deleted in the working tree: a flake does not see it either.
            Err(_) => continue,
        };
        let target = to.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else if meta.is_file() {
            std::fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
        } else {
            continue;
        }
        copied += 1;
    }
    if !to.join("flake.nix").is_file() {
        bail!("{} has no flake.nix", from.display());
    }
    Ok(copied)
}

fn walk(base: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(base.join(rel)).with_context(|| format!("reading {}", base.join(rel).display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && (name == ".git" || name == "target") {
            continue;
        }
        let path = rel.join(&name);
        if entry.file_type()?.is_dir() {
            walk(base, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_directory_is_copied_without_git_and_target() {
        let from = tempfile::tempdir().unwrap();
        for f in ["flake.nix", "nix/lib.nix", "target/debug/x", ".git/HEAD"] {
            let p = from.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let to = tempfile::tempdir().unwrap();
        let sh = Shell::new().unwrap();
        // .git exists here, so git would be asked; a directory without it is walked.
        std::fs::remove_dir_all(from.path().join(".git")).unwrap();
        assert_eq!(copy_flake(&sh, from.path(), to.path()).unwrap(), 2);
        assert!(to.path().join("nix/lib.nix").is_file());
        assert!(!to.path().join("target").exists());
    }

    #[test]
    fn a_directory_without_flake_nix_is_refused() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        let sh = Shell::new().unwrap();
        assert!(copy_flake(&sh, from.path(), to.path()).unwrap_err().to_string().contains("no flake.nix"));
    }
}
