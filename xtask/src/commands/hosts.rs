//! `hosts add|remove|show`: the marked, reversible block that maps notaryserver and
//! sandboxregistry to 127.0.0.1 in the hosts file.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{HostsArgs, HostsCommand};
use crate::hosts_file;
use crate::ui;

pub fn run(a: &HostsArgs) -> Result<ExitCode> {
    match a.command {
        HostsCommand::Add => report(hosts_file::add(&a.hosts_file, a.dry_run)?, a.dry_run, "Added", &a.hosts_file),
        HostsCommand::Remove => {
            report(hosts_file::remove(&a.hosts_file, a.dry_run)?, a.dry_run, "Removed", &a.hosts_file)
        }
        HostsCommand::Show(ref j) => {
            let st = hosts_file::status(&a.hosts_file)?;
            if !j.write(&st)? {
                println!("block present: {}{}", st.present, if st.stale { " (stale)" } else { "" });
                for f in &st.foreign {
                    println!("foreign mapping: {f}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(outcome: hosts_file::Outcome, dry_run: bool, verb: &str, path: &std::path::Path) {
    if !outcome.diff.is_empty() {
        print!("{}", outcome.diff);
    }
    match (outcome.changed, dry_run) {
        (false, _) => ui::info("Unchanged", format!("{} already as wanted", path.display())),
        (true, true) => ui::info("Dry run", format!("{} left untouched", path.display())),
        (true, false) => ui::status(verb, format!("trust-sandbox block in {}", path.display())),
    }
}
