//! `trust show REPO [--identity NAME] [--json [FILE]]`: a repository's trust data as a tree.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::{TrustArgs, TrustCommand};
use crate::sandbox::{Sandbox, Selector};
use crate::trust;
use crate::ui::Printer;

pub fn run(sh: &Shell, sel: &Selector, args: &TrustArgs) -> Result<ExitCode> {
    let TrustCommand::Show(a) = &args.command;
    let sb = Sandbox::open_required(sh, sel)?;
    let gun = trust::gun(&sb.client_registry()?, &a.repository)?;
    let view = trust::snapshot(sh, &sb, &gun, a.identity.as_deref(), trust::Verify::AskClients)?;
    if !a.json.write(&view)? {
        print!("{}", trust::tree::render(&view, &Printer::stdout()));
    }
    Ok(ExitCode::SUCCESS)
}
