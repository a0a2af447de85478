//! A Debian build's scratch directory: its mounts (an overlay over the base, bind mounts), undone
//! in reverse order even when the build fails; the shared .deb cache hard-linked in and out; and
//! what a build killed before it could clean up left behind, undone.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Runs a command that must succeed, with its stderr in the error.
pub(super) fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Mount points made for one build, undone in reverse order even when the build fails.
#[derive(Default)]
pub(super) struct Mounts(Vec<PathBuf>);

impl Mounts {
    pub(super) fn overlay(&mut self, lower: &Path, upper: &Path, work: &Path, merged: &Path) -> Result<()> {
        for p in [lower, upper, work] {
            if p.to_string_lossy().contains([',', ':']) {
                bail!("{} contains ',' or ':', which overlayfs options cannot carry; set TRUST_SANDBOX_CACHE to another directory", p.display());
            }
        }
        // No redirects, metacopy or index: then the upper directory holds whole files and the two
        // documented markers only, which is all the layer writer reads.
        let opts = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off,index=off",
            lower.display(),
            upper.display(),
            work.display()
        );
        run(Command::new("mount").args(["-t", "overlay", "overlay", "-o", &opts]).arg(merged))
            .context("mounting an overlay for the image build (needs root and overlayfs)")?;
        self.0.push(merged.to_path_buf());
        Ok(())
    }

    pub(super) fn bind(&mut self, from: &Path, to: &Path) -> Result<()> {
        fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        run(Command::new("mount").arg("--bind").arg(from).arg(to))?;
        self.0.push(to.to_path_buf());
        Ok(())
    }

    pub(super) fn release(&mut self) -> Result<()> {
        self.release_to(0)
    }

    /// Unmounts the newest mounts until `keep` remain.
    pub(super) fn release_to(&mut self, keep: usize) -> Result<()> {
        while self.0.len() > keep {
            let p = self.0.pop().expect("longer than keep");
            run(Command::new("umount").arg(&p)).with_context(|| format!("unmounting {}", p.display()))?;
        }
        Ok(())
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        while let Some(p) = self.0.pop() {
            let ok = Command::new("umount").arg("--recursive").arg(&p).stderr(Stdio::null()).status();
            if !ok.is_ok_and(|s| s.success()) {
                let _ = Command::new("umount").args(["--recursive", "--lazy"]).arg(&p).status();
            }
        }
    }
}

/// Hard-links the .deb files of `from` that `to` lacks; returns how many.
pub(super) fn link_debs(from: &Path, to: &Path) -> Result<usize> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut n = 0;
    let Ok(entries) = fs::read_dir(from) else { return Ok(0) };
    for e in entries.flatten() {
        let name = e.file_name();
        if Path::new(&name).extension() != Some(OsStr::new("deb")) || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match fs::hard_link(e.path(), to.join(&name)) {
            Ok(()) => n += 1,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(err).with_context(|| format!("linking {} into {}", e.path().display(), to.display()))
            }
        }
    }
    Ok(n)
}

/// Mount points at or below `dir`, deepest first, from /proc/self/mountinfo.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}

/// A build or load killed before it could clean up (Ctrl-C, say) leaves its directory and mounts,
/// or its archive: `.build-<pid>-*` and `.load-<pid>-*` whose process is gone are undone here.
pub fn clean_stale_builds(cache_dir: &Path) {
    for e in fs::read_dir(cache_dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rest = name.strip_prefix(".build-").or_else(|| name.strip_prefix(".load-"));
        let Some(pid) = rest.and_then(|r| r.split('-').next()) else { continue };
        if pid.is_empty() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        let dir = e.path();
        for p in mounts_below(&dir) {
            let _ = Command::new("umount").args(["--recursive", "--lazy"]).arg(&p).stderr(Stdio::null()).status();
        }
        // Never delete through a mount that would not go: it may be the shared cache.
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_file(&dir);
        } else if mounts_below(&dir).is_empty() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// Removes every cached image, layer and rootfs tarball (the .deb cache stays).
pub fn clear_cache(dir: &Path) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "tar" || x == "json") {
            let _ = fs::remove_file(e.path());
        }
    }
    let _ = fs::remove_dir_all(dir.join("layers"));
}
