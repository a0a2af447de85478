//! `images build|list|rm|lock`: the pinned images and their lock.

use std::process::ExitCode;

use anyhow::{Context, Result};
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
        ImagesCommand::Build { images: src, rebuild } => {
            let engine = engine_for(sh)?;
            let spec = table::load()?;
            // Every image, the on-demand ones (signers) included.
            let names: Vec<&str> = spec.images.keys().map(String::as_str).collect();
            let opts = images::Options { mirrors: src.mirror, rebuild };
            let refs = images::ensure_only(sh, &engine, &spec, src.source, &opts, &names)?;
            for (image, reference) in refs {
                println!("{image:<10} {reference}");
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
