//! Files written whole: readers see the old file or the new one, never a part, and each file has
//! its mode from its first byte (private ones 0600).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

pub fn make_private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", path.display()))
}

/// Writes beside and renames, with mode 0600 from the first byte.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_mode(path, bytes, 0o600)
}

/// The one atomic write: readers see the old file or the new one, never a part, and the file
/// has `mode` from its first byte.
pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    write_together(dir, &[(path, bytes, mode)])
}

/// Writes files that belong together (a key and its certificate) into `dir`: every one is staged
/// complete before the first is renamed into place, so the window in which only some exist is a
/// few renames long rather than a key generation long. Renamed in the order given.
pub fn write_together(dir: &Path, files: &[(&Path, &[u8], u32)]) -> Result<()> {
    let staged = files.iter().map(|(_, bytes, mode)| stage(dir, bytes, *mode)).collect::<Result<Vec<_>>>()?;
    for (file, (dest, _, _)) in staged.into_iter().zip(files) {
        commit(file, dest)?;
    }
    sync_dir(dir)
}

/// A complete, synced temporary file in `dir` (so the rename cannot cross file systems), for
/// [`commit`].
fn stage(dir: &Path, bytes: &[u8], mode: u32) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(".staging-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    // The umask may have narrowed the mode at creation; certificates must stay world-readable.
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {}", file.path().display()))?;
    Ok(file)
}

/// Renames a staged file into place.
fn commit(staged: tempfile::NamedTempFile, dest: &Path) -> Result<()> {
    staged
        .persist(dest)
        .map(drop)
        .map_err(|e| e.error)
        .with_context(|| format!("moving a new file into place as {}", dest.display()))
}

/// Makes renames in `dir` durable, not just the files' contents.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_with_the_mode_and_leaves_nothing_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        write_private(&path, b"one").unwrap();
        write_mode(&path, b"two", 0o640).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["secrets.json"]);
    }

    #[test]
    fn files_written_together_each_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("a.key"), dir.path().join("a.crt"));
        write_together(dir.path(), &[(&key, b"k", 0o600), (&cert, b"c", 0o644)]).unwrap();
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&cert).unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no staging file left");
    }
}
