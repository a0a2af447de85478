//! `status`: each service's state and a live readiness probe; exit 3 if any is not ready.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::JsonFlag;
use crate::sandbox::status::{self, Status};
use crate::sandbox::{Sandbox, Selector};

pub fn run(sh: &Shell, sel: &Selector, json: &JsonFlag) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    let st = status::status(sh, &sb)?;
    if !json.write(&st)? {
        print_status(&st);
    }
    Ok(if st.services.iter().all(|s| s.ready) { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

fn print_status(st: &Status) {
    println!("sandbox {} on {} (id {}, state {})", st.name, st.engine, st.id, st.state_dir);
    println!("{:<14} {:<9} {:<6} {:<28} ALIASES", "SERVICE", "STATE", "READY", "PUBLISHED");
    for s in &st.services {
        println!(
            "{:<14} {:<9} {:<6} {:<28} {}",
            s.service,
            s.state,
            if s.ready { "yes" } else { "no" },
            s.published.join(","),
            s.aliases.join(",")
        );
        if !s.detail.is_empty() {
            println!("    {}", s.detail);
        }
        if let Some(fix) = &s.fix {
            println!("    fix: {fix}");
        }
    }
}
