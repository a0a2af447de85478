//! One command at a time per sandbox. `up`, `down`, `destroy`, `play`, `scenario run` and `bench`
//! hold an exclusive lock on `<state root>/.locks/<name>.lock` for their whole run; a second one
//! says what it waits for and waits. Two `up` at once used to create two ids, two CAs or two
//! networks of the same name; now the second finds the first one's sandbox and reuses it.
//!
//! The lock file lives beside the state directories, not in one: `destroy` removes the state
//! directory while holding the lock, and a new sandbox must be lockable before its directory exists.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::{ui, util};

/// Held until dropped (the kernel releases it when the process ends, however it ends).
pub struct Lock {
    _file: File,
}

pub fn path(name: &str) -> Result<PathBuf> {
    super::name::validate(name)?;
    Ok(super::state::root_dir()?.join(".locks").join(format!("{name}.lock")))
}

/// Takes the sandbox's lock for `command`, waiting (and saying so) while another command has it.
pub fn acquire(name: &str, command: &str) -> Result<Lock> {
    let path = path(name)?;
    let dir = path.parent().expect("the lock path has a parent");
    util::make_private_dir(dir)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening the lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let by = if holder.is_empty() { String::new() } else { format!(" ({holder})") };
            ui::info("Blocking", format!("waiting for another command on sandbox `{name}`{by} to finish"));
            file.lock().with_context(|| format!("waiting for the lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    // Who holds it, for the next one that has to wait.
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "`{command}`, pid {}", std::process::id())?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
