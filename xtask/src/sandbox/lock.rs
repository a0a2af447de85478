//! One command at a time per sandbox. `up`, `down`, `destroy`, `play`, `scenario run`, `bench`,
//! `migrate` and `compare` hold an exclusive lock on `<state root>/.locks/<name>.lock` for their
//! whole run; a second one says what it waits for and waits. Two `up` at once used to create two
//! ids, two CAs or two networks of the same name; now the second finds the first one's sandbox and
//! reuses it.
//!
//! The lock file lives beside the state directories, not in one: `destroy` removes the state
//! directory while holding the lock, and a new sandbox must be lockable before its directory exists.
//!
//! The file lives only as long as the command that holds it: it is unlinked while still locked,
//! when the lock is dropped (refused commands included). A command that was waiting on the file
//! then holds a lock on a name that no longer exists, so after every acquisition the path is
//! checked to still name the very file (device and inode) that was locked; if not, the lock is
//! taken again on whatever the path names now. So two commands never both believe they hold it.
//! A command killed outright leaves its file; the kernel has released the lock, and the next
//! command takes it and removes it in turn.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::ui;

/// Held until dropped (the kernel releases it when the process ends, however it ends).
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlinked while locked: a waiter that gets this file afterwards sees it gone and retries.
        let _ = std::fs::remove_file(&self.path);
        // The directory goes too when it is empty; a concurrent `acquire` recreates it.
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        let _ = self.file.unlock();
    }
}

pub fn path(name: &str) -> Result<PathBuf> {
    super::name::validate(name)?;
    Ok(super::state::root_dir()?.join(".locks").join(format!("{name}.lock")))
}

/// Takes the sandbox's lock for `command`, waiting (and saying so) while another command has it.
pub fn acquire(name: &str, command: &str) -> Result<Lock> {
    acquire_at(path(name)?, name, command)
}

fn acquire_at(path: PathBuf, name: &str, command: &str) -> Result<Lock> {
    let mut said = false;
    let mut file = loop {
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                if !said {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    let by = if holder.is_empty() { String::new() } else { format!(" ({holder})") };
                    ui::info("Blocking", format!("waiting for another command on sandbox `{name}`{by} to finish"));
                    said = true;
                }
                file.lock().with_context(|| format!("waiting for the lock {}", path.display()))?;
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        if still_names(&path, &file)? {
            break file;
        }
        // The holder unlinked it on its way out: lock whatever the path names now.
    };
    // Who holds it, for the next one that has to wait.
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "`{command}`, pid {}", std::process::id())?;
    Ok(Lock { file, path })
}

/// Opens (creating) the lock file; its directory may have been removed by a holder that just
/// finished, so it is made again when the open finds no directory.
fn open(path: &Path) -> Result<File> {
    let dir = path.parent().expect("the lock path has a parent");
    let missing = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    // create_dir_all says AlreadyExists when the directory goes between its mkdir and its check.
    let raced = |e: &std::io::Error| missing(e) || e.kind() == std::io::ErrorKind::AlreadyExists;
    for _ in 0..100 {
        match std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        {
            Ok(()) => {}
            Err(e) if raced(&e) => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
        match OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path) {
            Ok(f) => return Ok(f),
            Err(e) if missing(&e) => continue,
            Err(e) => return Err(e).with_context(|| format!("opening the lock {}", path.display())),
        }
    }
    anyhow::bail!("opening the lock {}: its directory keeps disappearing", path.display())
}

/// Does `path` still name the file `locked` (same device and inode)?
fn still_names(path: &Path, locked: &File) -> Result<bool> {
    let held = locked.metadata().context("reading the locked file")?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("checking the lock {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(root: &Path, name: &str) -> PathBuf {
        root.join(".locks").join(format!("{name}.lock"))
    }

    #[test]
    fn a_second_holder_is_refused_while_the_first_holds_it() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.lock");
        let a = OpenOptions::new().write(true).create(true).truncate(false).open(&p).unwrap();
        a.try_lock().unwrap();
        let b = OpenOptions::new().write(true).open(&p).unwrap();
        assert!(matches!(b.try_lock(), Err(TryLockError::WouldBlock)), "flock is per open file, so it serialises");
        drop(a);
        b.try_lock().unwrap();
    }

    #[test]
    fn the_lock_file_and_its_directory_go_with_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        {
            let lock = acquire_at(at(root, "ts-a"), "ts-a", "up").unwrap();
            let file = root.join(".locks/ts-a.lock");
            assert!(std::fs::read_to_string(&file).unwrap().contains("`up`, pid"));
            drop(lock);
            assert!(!file.exists(), "the lock file outlived its command");
            assert!(!root.join(".locks").exists(), "an empty .locks directory was left");
        }
    }

    /// Many holders in turn, several waiting at once: never two at the same time, and nothing left.
    #[test]
    fn waiters_never_share_the_lock_though_each_holder_unlinks_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        {
            let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let inside = inside.clone();
                    let path = at(&root, "ts-race");
                    std::thread::spawn(move || {
                        for _ in 0..25 {
                            let lock = acquire_at(path.clone(), "ts-race", "test").unwrap();
                            assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0, "two holders");
                            std::thread::yield_now();
                            inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            drop(lock);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert!(!root.join(".locks/ts-race.lock").exists());
        }
    }
}
