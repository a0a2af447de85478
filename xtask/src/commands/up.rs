//! `up`: build or reuse the images, then start the services in table order, each waited for
//! until it really works.

use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::{ImageSourceArgs, UpArgs};
use crate::images;
use crate::sandbox::state::RegistryMode;
use crate::sandbox::{lifecycle, Selector, UpOptions};
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector, args: &UpArgs) -> Result<ExitCode> {
    let sb = lifecycle::up(sh, sel, &options(args)).context("bringing the sandbox up")?;
    ui::status("Up", format!("sandbox `{}` on {} (state: {})", sb.name, sb.engine.kind, sb.dir.path.display()));
    Ok(ExitCode::SUCCESS)
}

/// `up`'s arguments when none were given (`cargo xtask sandbox` alone plays the guide).
pub fn default_args() -> UpArgs {
    UpArgs {
        images: default_image_args(),
        server_port: None,
        registry_port: None,
        client: None,
        registry_tls: false,
        registry_auth: false,
        yes: false,
    }
}

fn default_image_args() -> ImageSourceArgs {
    ImageSourceArgs { source: images::SourceKind::default_for_up(), mirror: vec![] }
}

pub fn options(a: &UpArgs) -> UpOptions {
    UpOptions {
        images: a.images.source,
        image_opts: images::Options { mirrors: a.images.mirror.clone(), rebuild: false },
        server_port: a.server_port,
        registry_port: a.registry_port,
        client: a.client,
        registry: RegistryMode { tls: a.registry_tls, auth: a.registry_auth },
        yes: a.yes,
    }
}
