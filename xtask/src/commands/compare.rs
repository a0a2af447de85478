//! `compare [--row ID]… [--json FILE]`: every enforcement point side by side on the same image;
//! exits non-zero when a measured cell differs from xtask/data/comparison.toml (and the README).

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::CompareArgs;
use crate::migrate::consumer::{self, Consumer};
use crate::migrate::signers::{ImageChoice, Signers};
use crate::migrate::{compare, kit};
use crate::sandbox::{Sandbox, Selector};
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector, args: &CompareArgs) -> Result<ExitCode> {
    let expected = compare::expected()?;
    if args.markdown {
        print!("{}", compare::markdown(&expected));
        return Ok(ExitCode::SUCCESS);
    }
    compare::check_rows(&expected, &args.rows)?;
    if let Some(path) = &args.html {
        crate::session::reports::check_page(path)?;
    }
    let sb = Sandbox::open_required(sh, sel)?;
    super::migrate::require_up(sh, &sb)?;
    let choice = ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() };
    // Both helper images first: a consumer image that cannot be had starts nothing.
    let consumer_image = consumer::image(sh, &sb, &choice)?;
    let signers = Signers::start(sh, &sb, &choice)?;
    let kit_dir = kit::default_dir(&sb);
    if !kit_dir.join(kit::MARKER).is_file() {
        // No `migrate` yet: the same kit, from the same key, without digests.
        let report = crate::migrate::Report::empty(&sb, &signers);
        kit::write(&kit_dir, &kit::render(&crate::migrate::kit_input(&sb, &signers, &report)?)?)?;
    }
    let consumer = Consumer::start(sh, &sb, &consumer_image, &kit_dir)?;
    crate::signals::catch("killing the running check's processes, then writing the rows measured so far")?;
    let matrix = compare::run(sh, &sb, &signers, &consumer, &args.rows)?;
    let json = args.json.json.as_deref() == Some("-");
    let table = compare::table(&matrix);
    if json {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    args.json.write(&matrix)?;
    if let Some(path) = &args.html {
        // Written however the run ended: an interrupted comparison's page says so.
        let masker = super::migrate::report_masker(&sb, &signers)?;
        crate::session::reports::write_page(path, || compare::html::render(&matrix, &expected, &masker))?;
    }
    if let Some(sig) = crate::signals::caught() {
        ui::warn(format!(
            "interrupted by {sig}: the running check's processes were killed; {} row(s) measured and kept{} (exit {})",
            matrix.rows.len(),
            if args.json.json.is_some() { " in the JSON, marked interrupted" } else { "" },
            sig.exit_code()
        ));
        return Ok(ExitCode::from(sig.exit_code()));
    }
    if matrix.as_recorded {
        ui::status("Matches", "every cell is as xtask/data/comparison.toml and the README state");
        Ok(ExitCode::SUCCESS)
    } else {
        ui::warn("some cells differ from xtask/data/comparison.toml (marked above)");
        Ok(ExitCode::FAILURE)
    }
}
