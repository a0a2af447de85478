//! The session's reports: JSON (`--json [FILE]`), JUnit XML (`--junit FILE`) and the HTML page
//! (`--html FILE`). Their paths are checked before the run, not after it, and all are written
//! however the run ended (an interrupted run's page says so). `compare` and `migrate` write their
//! pages here too.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Options;
use crate::scenario::{junit, Report};
use crate::step::mask::Masker;

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
    if let Some(path) = &opts.html {
        check_page(path)?;
    }
    Ok(())
}

/// Writes the reports `opts` asks for, the page's text through `masker`; returns the files
/// written (stdout is not one).
pub fn write(report: &Report, opts: &Options, masker: &Masker) -> Result<Vec<String>> {
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
    if let Some(path) = &opts.html {
        write_page(path, || crate::scenario::html::render(report, masker))?;
        files.push(path.display().to_string());
    }
    Ok(files)
}

/// Refuses, before any work, a path the page could not be written to: a missing directory, one
/// that is not writable, or a directory in the file's place. Tries a real file, as the write will.
pub fn check_page(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write the HTML report {}: the directory {} does not exist (create it first)",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!("cannot write the HTML report {}: it is a directory; name a file", path.display());
    }
    tempfile::Builder::new()
        .prefix(".html-check-")
        .tempfile_in(dir)
        .map(drop)
        .with_context(|| format!("cannot write the HTML report {}: {} is not writable", path.display(), dir.display()))
}

/// Renders with `render`, writes the page atomically (readers see the old file or the whole new
/// one) and world-readable, and says where, how large and how long rendering took.
pub fn write_page(path: &Path, render: impl FnOnce() -> String) -> Result<()> {
    let started = std::time::Instant::now();
    let page = render();
    let rendered = started.elapsed();
    crate::util::write_mode(path, page.as_bytes(), 0o644)
        .with_context(|| format!("writing the HTML report {}", path.display()))?;
    crate::ui::status(
        "Wrote",
        format!("{} ({} kB, rendered in {} ms)", path.display(), page.len().div_ceil(1024), rendered.as_millis()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unwritable_report_paths_are_refused_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let err = super::check_page(&dir.path().join("missing/r.html")).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        let err = super::check_page(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = super::check_page(&file.join("r.html")).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "a file is no directory: {err}");
        super::check_page(&dir.path().join("r.html")).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["file"], "the check leaves nothing behind");
    }
}
