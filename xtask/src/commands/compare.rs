//! `compare [--row ID]… [--json FILE]`: DCT, cosign and Notation side by side on the same tag;
//! exits non-zero when a measured cell differs from xtask/data/comparison.toml (and the README).

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::CompareArgs;
use crate::migrate::compare;
use crate::migrate::signers::{ImageChoice, Signers};
use crate::sandbox::{Sandbox, Selector};
use crate::ui;

pub fn run(sh: &Shell, sel: &Selector, args: &CompareArgs) -> Result<ExitCode> {
    let expected = compare::expected()?;
    if args.markdown {
        print!("{}", compare::markdown(&expected));
        return Ok(ExitCode::SUCCESS);
    }
    let sb = Sandbox::open_required(sh, sel)?;
    super::migrate::require_up(sh, &sb)?;
    let choice = ImageChoice { source: args.images.source, mirrors: args.images.mirror.clone() };
    let signers = Signers::start(sh, &sb, &choice)?;
    crate::signals::catch("killing the running check's processes, then writing the rows measured so far")?;
    let matrix = compare::run(sh, &sb, &signers, &args.rows)?;
    let json = args.json.json.as_deref() == Some("-");
    let table = compare::table(&matrix);
    if json {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    args.json.write(&matrix)?;
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
