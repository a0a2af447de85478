//! Image layers as tar streams. A layer is what an overlayfs upper directory holds after a build on
//! top of a lower one: new and changed entries, plus overlay's own markers for what went away,
//! which become the image-spec whiteouts (`.wh.<name>`, `.wh..wh..opq`) that docker and podman
//! apply on load. The base layer is the same walk over a plain directory with nothing below it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tar::{EntryType, Header};

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
const OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";
/// Only file capabilities travel, as with `docker save`: the host's SELinux labels and overlay's
/// bookkeeping attributes must not end up in an image.
const CAPABILITY: &str = "security.capability";

/// What one layer holds, for the build summary and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub entries: usize,
    pub whiteouts: usize,
}

/// Writes `upper` as a layer tar. `lower` is the directory `upper` was an overlay upper of (None
/// for a base layer): it decides which overlay whiteouts and opaque markers hide anything.
/// Output is reproducible: entries sorted by name, numeric owners, no user/group names, mtimes
/// clamped to `epoch`, and nothing under `dev/` (engines mount their own /dev).
pub fn write<W: Write>(upper: &Path, lower: Option<&Path>, out: W, epoch: u64) -> Result<Summary> {
    let mut w = Walker { tar: tar::Builder::new(out), epoch, links: HashMap::new(), summary: Summary::default() };
    w.dir(upper, lower.map(Path::to_path_buf), Path::new(""))?;
    w.tar.into_inner().context("finishing the layer tar")?.flush().context("flushing the layer tar")?;
    Ok(w.summary)
}

struct Walker<W: Write> {
    tar: tar::Builder<W>,
    epoch: u64,
    /// (device, inode) of every multiply-linked file written so far, so later names become links.
    links: HashMap<(u64, u64), PathBuf>,
    summary: Summary,
}

/// Major/minor as glibc's gnu_dev_major/minor split a Linux dev_t.
fn major(rdev: u64) -> u32 {
    (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)) as u32
}

fn minor(rdev: u64) -> u32 {
    ((rdev & 0xff) | ((rdev >> 12) & !0xff)) as u32
}

/// Overlay records a deletion as a 0/0 character device in the upper directory.
fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// A directory's entries with their metadata, in the order of the names they get in the tar
/// (a deletion mark `x` is written as `.wh.x`), so that the output is sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<(Vec<u8>, OsString, Metadata)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = e.with_context(|| format!("reading {}", dir.display()))?.file_name();
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut key = if is_whiteout(&meta) { WHITEOUT_PREFIX.as_bytes().to_vec() } else { Vec::new() };
        key.extend_from_slice(name.as_bytes());
        out.push((key, name, meta));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

impl<W: Write> Walker<W> {
    fn header(&self, meta: &Metadata, kind: EntryType) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(meta.uid().into());
        h.set_gid(meta.gid().into());
        h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0).min(self.epoch));
        h.set_size(0);
        h
    }

    /// `lower` is the directory this one shadows, if it exists there as a real directory.
    fn dir(&mut self, root: &Path, lower: Option<PathBuf>, rel: &Path) -> Result<()> {
        for (_, name, meta) in sorted_entries(&root.join(rel))? {
            let rel = rel.join(&name);
            if rel.parent() == Some(Path::new("dev")) {
                continue;
            }
            let path = root.join(&rel);
            let below = lower.as_ref().map(|l| l.join(&name));
            let below_meta = below.as_ref().and_then(|b| fs::symlink_metadata(b).ok());
            if is_whiteout(&meta) {
                // Deleting what only this layer created leaves no marker; deleting from below does.
                if below_meta.is_some() {
                    let mut wh_name = OsString::from(WHITEOUT_PREFIX);
                    wh_name.push(&name);
                    let mut h = self.header(&meta, EntryType::Regular);
                    self.tar.append_data(&mut h, rel.with_file_name(wh_name), io::empty())?;
                    self.summary.whiteouts += 1;
                }
                continue;
            }
            self.entry(&path, &rel, &meta)?;
            if meta.is_dir() {
                let below_dir = below.filter(|_| below_meta.as_ref().is_some_and(Metadata::is_dir));
                // Overlay marks a directory opaque when it was removed and made again: nothing of
                // the one below shows through. A new directory may carry the mark too; with
                // nothing below there is nothing to hide, so no marker.
                let opaque = xattr::get(&path, OVERLAY_OPAQUE).ok().flatten().is_some_and(|v| v == b"y");
                if opaque && below_dir.is_some() {
                    let mut h = self.header(&meta, EntryType::Regular);
                    h.set_mode(0o644);
                    self.tar.append_data(&mut h, rel.join(OPAQUE_MARKER), io::empty())?;
                    self.summary.whiteouts += 1;
                }
                self.dir(root, if opaque { None } else { below_dir }, &rel)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<()> {
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        if let Some(cap) = xattr::get(path, CAPABILITY).ok().flatten() {
            self.tar.append_pax_extensions([(format!("SCHILY.xattr.{CAPABILITY}").as_str(), cap.as_slice())])?;
        }
        let context = || format!("adding {} to the layer", path.display());
        if ft.is_dir() {
            let mut h = self.header(meta, EntryType::Directory);
            self.tar.append_data(&mut h, rel, io::empty()).with_context(context)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(path).with_context(context)?;
            let mut h = self.header(meta, EntryType::Symlink);
            self.tar.append_link(&mut h, rel, target).with_context(context)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                    let first = first.clone();
                    let mut h = self.header(meta, EntryType::Link);
                    self.tar.append_link(&mut h, rel, first).with_context(context)?;
                    self.summary.entries += 1;
                    return Ok(());
                }
                self.links.insert((meta.dev(), meta.ino()), rel.to_path_buf());
            }
            let mut h = self.header(meta, EntryType::Regular);
            h.set_size(meta.len());
            let file = fs::File::open(path).with_context(context)?;
            self.tar.append_data(&mut h, rel, file).with_context(context)?;
        } else {
            let kind = if ft.is_char_device() {
                EntryType::Char
            } else if ft.is_block_device() {
                EntryType::Block
            } else {
                EntryType::Fifo
            };
            let mut h = self.header(meta, kind);
            h.set_device_major(major(meta.rdev()))?;
            h.set_device_minor(minor(meta.rdev()))?;
            self.tar.append_data(&mut h, rel, io::empty()).with_context(context)?;
        }
        self.summary.entries += 1;
        Ok(())
    }
}

/// `sha256:<hex>` of a file, by `sha256sum`: the unoptimised dev build hashes at ~20 MB/s, the
/// coreutils one at memory speed, and layers run to hundreds of megabytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    let out =
        std::process::Command::new("sha256sum").arg("--binary").arg(path).output().context("running sha256sum")?;
    if !out.status.success() {
        anyhow::bail!("sha256sum {} failed: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let hex = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("sha256sum printed no digest for {}", path.display());
    }
    Ok(format!("sha256:{hex}"))
}

/// Entry names of a tar stream in order, links shown as `name -> target`.
#[cfg(test)]
pub fn list(data: impl io::Read) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in tar::Archive::new(data).entries()? {
        let entry = entry?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        out.push(match entry.link_name_bytes() {
            Some(t) if kind.is_symlink() || kind.is_hard_link() => {
                format!("{name} {} {}", if kind.is_symlink() { "->" } else { "=>" }, String::from_utf8_lossy(&t))
            }
            _ if kind.is_dir() => format!("{name}/"),
            _ => name,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
