//! The session's reports: JSON (`--json [FILE]`) and JUnit XML (`--junit FILE`). Their paths are
//! checked before the run, not after it, and both are written however the run ended.

use std::path::Path;

use anyhow::{bail, Result};

use super::Options;
use crate::scenario::{junit, Report};

/// A report file must be writable where it was asked for: checked before the run.
pub fn check_paths(opts: &Options) -> Result<()> {
    let json = opts.json.as_deref().filter(|p| *p != "-").map(Path::new);
    for path in json.into_iter().chain(opts.junit.as_deref()) {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!(
                "cannot write the report {}: the directory {} does not exist (create it first)",
                path.display(),
                parent.display()
            );
        }
    }
    Ok(())
}

/// Writes the reports `opts` asks for; returns the files written (stdout is not one).
pub fn write(report: &Report, opts: &Options) -> Result<Vec<String>> {
    let mut files = Vec::new();
    if let Some(target) = opts.json.as_deref() {
        crate::ui::json(target, report)?;
        if target != "-" {
            files.push(target.to_string());
        }
    }
    if let Some(path) = &opts.junit {
        junit::write(report, path)?;
        files.push(path.display().to_string());
    }
    Ok(files)
}
