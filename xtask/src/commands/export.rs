//! `export compose|kube [--out DIR]`: the running sandbox as a Compose file or Kubernetes
//! manifests, with its files and secrets beside them and a note on loading the images.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::{ExportArgs, ExportFormat};
use crate::export::{self, compose, kube};
use crate::sandbox::{Sandbox, Selector};
use crate::ui;

const IMAGES_NOTE: &str = "IMAGES.md";

pub fn run(sh: &Shell, sel: &Selector, a: &ExportArgs) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    let mut plan = export::plan(sh, &sb).with_context(|| format!("exporting sandbox `{}`", sb.name))?;
    let format = match a.format {
        ExportFormat::Compose => "compose",
        ExportFormat::Kube => "kube",
    };
    let out = a.out.clone().unwrap_or_else(|| sb.dir.path.join("export").join(format));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // hostPath mounts need an absolute path; the Compose file's are relative to itself.
    let out: PathBuf = out.canonicalize().with_context(|| format!("resolving {}", out.display()))?;
    let manifest = match a.format {
        ExportFormat::Compose => (compose::FILE, compose::render(&plan)?),
        ExportFormat::Kube => {
            kube::prepare(&mut plan)?;
            (kube::FILE, kube::render(&plan, &out)?)
        }
    };
    let note = export::images_note(&plan, sb.engine.kind);
    export::write(&out, &plan, &[manifest.clone(), (IMAGES_NOTE, note)])?;
    let secrets = plan.files.iter().filter(|f| f.secret).count();
    ui::status(
        "Exported",
        format!(
            "sandbox `{}` as {format}: {} services, {secrets} secret files (0600) in {}",
            sb.name,
            plan.parts.len(),
            out.join(export::SECRETS_DIR).display()
        ),
    );
    let next = match a.format {
        ExportFormat::Compose => {
            format!("docker-compose -p {} -f {} up -d", sb.name, out.join(compose::FILE).display())
        }
        ExportFormat::Kube => format!("podman kube play {}", out.join(kube::FILE).display()),
    };
    ui::info(
        "Images",
        format!("{} (how to load them elsewhere: {})", plan.images.join(" "), out.join(IMAGES_NOTE).display()),
    );
    ui::info("Next", format!("`cargo xtask sandbox down`, then {next}"));
    println!("{}", out.join(manifest.0).display());
    Ok(ExitCode::SUCCESS)
}
