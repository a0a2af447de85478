//! `images build|list|rm|lock`: the pinned images and their lock.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::cli::ImagesCommand;
use crate::engine::Engine;
use crate::images;
use crate::sandbox::{Sandbox, Selector};
use crate::table;
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector, command: ImagesCommand) -> Result<ExitCode> {
    // Images belong to an engine, not to a sandbox: `--engine` names it; without it, the
    // sandbox's engine if there is one (never a refusal because the sandbox lives elsewhere).
    let engine_for = |sh: &Shell| -> Result<Engine> {
        if sel.engine.is_some() {
            return Engine::detect(sh, sel.engine);
        }
        match Sandbox::open(sh, sel)? {
            Some(sb) => Ok(sb.engine),
            None => Engine::detect(sh, None),
        }
    };
    match command {
        ImagesCommand::Build { images: src, rebuild, cache_dir, repo, json } => {
            let engine = engine_for(sh)?;
            let spec = table::load()?;
            // Every image, the on-demand ones (signers) included.
            let names: Vec<&str> = spec.images.keys().map(String::as_str).collect();
            let opts = images::Options { mirrors: src.mirror, rebuild };
            let refs = if cache_dir.is_some() || repo.is_some() {
                let prefix = throwaway_prefix(repo.as_deref())?;
                if src.source == images::SourceKind::Nix {
                    bail!("--cache-dir and --repo build the Debian images: drop --images nix");
                }
                let cache = cache_dir.unwrap_or_else(|| crate::util::cache_dir().join("debian"));
                images::ensure_debian(sh, &engine, &spec, &opts, &names, &cache, &prefix)?
            } else {
                images::ensure_only(sh, &engine, &spec, src.source, &opts, &names)?
            };
            let built = images::describe(sh, &engine, refs)?;
            if !json.write(&built)? {
                for b in built {
                    println!("{:<10} {:<52} {} {:>4.0} MB", b.image, b.reference, &b.id[..12], b.size_mb);
                }
            }
        }
        ImagesCommand::List(j) => {
            let list = images::list(sh, &engine_for(sh)?)?;
            if !j.write(&list)? {
                for l in list {
                    println!(
                        "{:<10} {:<52} {:<10} {}",
                        l.image,
                        l.reference,
                        l.size,
                        if l.current { "current" } else { "stale" }
                    );
                }
            }
        }
        ImagesCommand::Rm { stale } => {
            let n = images::remove(sh, &engine_for(sh)?, stale)?;
            ui::status("Removed", format!("{n} image(s)"));
        }
        ImagesCommand::Lock { update } => {
            let mut lock = crate::images::lock::load()?;
            if update {
                let changes = images::update_lock(sh, &mut lock)?;
                if changes.is_empty() {
                    ui::info("Unchanged", "every pin is what the mirror serves");
                } else {
                    crate::util::write_mode(&images::lock::path(), lock.render()?.as_bytes(), 0o644)
                        .context("writing images.lock")?;
                    for c in changes {
                        ui::status("Updated", c);
                    }
                }
            } else {
                for (name, image) in &lock.images {
                    println!(
                        "{name:<10} {}  {}",
                        lock.tag(name)?,
                        image.packages.iter().map(|(p, v)| format!("{p}={v}")).collect::<Vec<_>>().join(" ")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--repo` as a repository prefix ending in `/`; never the namespace `up` uses.
fn throwaway_prefix(repo: Option<&str>) -> Result<String> {
    let Some(repo) = repo else { return Ok(images::REPO_PREFIX.to_string()) };
    let prefix = format!("{}/", repo.trim_end_matches('/'));
    let valid = prefix.len() > 1
        && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        && !prefix.contains("//");
    if !valid {
        bail!("--repo {repo:?}: a repository prefix is lowercase letters, digits, '.', '_', '-' and '/'");
    }
    if prefix == images::REPO_PREFIX || prefix == images::REPO_PREFIX.trim_start_matches("localhost/") {
        bail!("--repo {repo:?} is the namespace `up` uses: pick another (e.g. localhost/trust-sandbox-check)");
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throwaway_repo_is_never_the_sandbox_namespace() {
        assert_eq!(throwaway_prefix(Some("localhost/ts-repro-1")).unwrap(), "localhost/ts-repro-1/");
        assert_eq!(throwaway_prefix(None).unwrap(), images::REPO_PREFIX);
        for bad in ["localhost/trust-sandbox", "localhost/trust-sandbox/", "trust-sandbox", "Upper/x", "a//b", "/"] {
            assert!(throwaway_prefix(Some(bad)).is_err(), "{bad}");
        }
    }
}
