//! `destroy`: everything of the sandbox goes, volumes and state (trust data, keys, PKI) included.
//! A name with nothing to destroy is an error (exit 1), as `rm` or `docker rm` of a missing name:
//! usually a mistyped `--name`, which a script would otherwise take for a clean-up that happened.

use std::process::ExitCode;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::sandbox::lifecycle::{self, Destroyed};
use crate::sandbox::{state, Selector};

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    match lifecycle::destroy(sh, sel)? {
        Destroyed::Something => Ok(ExitCode::SUCCESS),
        Destroyed::Nothing => {
            let root = state::root_dir()?;
            bail!("no sandbox named `{}` (state in {}, nor any container, network or volume of that name): nothing to destroy{}", sel.name, root.display(), others(&root))
        }
    }
}

/// `; sandboxes there: a, b` — the names that do exist, for a mistyped one.
fn others(root: &std::path::Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        String::new()
    } else {
        format!("; sandboxes there: {}", names.join(", "))
    }
}
