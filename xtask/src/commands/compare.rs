//! `compare [--row ID]… [--json FILE]`: DCT, cosign and Notation side by side on the same tag;
//! exits non-zero when a measured cell differs from xtask/data/comparison.toml (and the README).

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::CompareArgs;
use crate::migrate::compare;
use crate::migrate::signers::{ImageChoice, Signers};
use crate::sandbox::{Sandbox, Selector};
use crate::{html, ui};

pub fn run(sh: &Shell, sel: &Selector, args: &CompareArgs) -> Result<ExitCode> {
    let expected = compare::expected()?;
    if args.markdown {
        print!("{}", compare::markdown(&expected));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.html {
        html::check_writable(path)?;
    }
    let sb = Sandbox::open_required(sh, sel)?;
    super::migrate::require_up(sh, &sb)?;
    let choice = ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() };
    let signers = Signers::start(sh, &sb, &choice)?;
    let matrix = compare::run(sh, &sb, &signers, &args.rows)?;
    let json = args.json.json.as_deref() == Some("-");
    let table = compare::table(&matrix);
    if json {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    args.json.write(&matrix)?;
    if let Some(path) = &args.html {
        let masker = super::migrate::report_masker(&sb, &signers)?;
        html::write_timed(path, || crate::migrate::html::render_compare(&matrix, &expected, &masker))?;
    }
    if matrix.as_recorded {
        ui::status("Matches", "every cell is as xtask/data/comparison.toml and the README state");
        Ok(ExitCode::SUCCESS)
    } else {
        ui::warn("some cells differ from xtask/data/comparison.toml (marked above)");
        Ok(ExitCode::FAILURE)
    }
}
