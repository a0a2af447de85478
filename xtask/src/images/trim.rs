//! What the Debian images leave out, and how: an image holds only what its services run.
//!
//! - Per image, as data: the lock entry's `drop` and `keep` lists become dpkg path filters
//!   (`--path-exclude`, then `--path-include`, in the image's /etc/dpkg/dpkg.cfg.d), so the
//!   files are never unpacked (no whiteouts, no
//!   wasted unpacking) and the image's own dpkg configuration records what was left out. The
//!   client keeps one qemu emulator (the machine's) of qemu-user's 35, and the notary package's
//!   CLI without its servers; the notary image its servers and the CLI (a scenario's impostor
//!   server signs with it), not escrow; the DB only the MariaDB tools the sandbox runs.
//! - For every image: the base is merged-/usr the way debootstrap makes it (mmdebstrap's
//!   `merged-usr` hooks: the directory links, then the `usr-is-merged` package), because apt would
//!   otherwise satisfy init-system-helpers' `usrmerge | usr-is-merged` with usrmerge and all of
//!   perl (47 MB in every image, measured); and dpkg's and debconf's `*-old` backups go.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The machine's architecture as `uname -m` and qemu name it (`x86_64`, `aarch64`): what the
/// lock's `{arch}` stands for.
pub fn host_arch() -> &'static str {
    std::env::consts::ARCH
}

/// A customize hook (rootfs at "$1"): the backups dpkg and debconf keep of their databases,
/// which nothing in a container reads.
pub const DROP_BACKUPS: &str = r#"rm -f "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old"#;

/// A setup hook (rootfs at "$1") writing `filters` as dpkg configuration, or None for none.
/// Its own file: mmdebstrap writes `--dpkgopt`s only into a 99mmdebstrap it creates, and every
/// image inherits the base's. dpkg reads dpkg.cfg.d in name order, so these come after the
/// base's filters, and within them the last matching filter decides.
pub fn filter_hook(filters: &[String]) -> Option<String> {
    if filters.is_empty() {
        return None;
    }
    let quoted: Vec<String> = filters.iter().map(|f| crate::util::shell_quote(f)).collect();
    Some(format!("printf '%s\\n' {} > \"$1\"/etc/dpkg/dpkg.cfg.d/{IMAGE_FILTERS}", quoted.join(" ")))
}

/// An extract hook (rootfs at "$1") deleting what the base's `drop` globs match among the files
/// mmdebstrap extracted before dpkg's filter was in place (dpkg's globs match `/` with `*`, as
/// find's -path does). Directories stay, as dpkg keeps them. The search starts at each glob's
/// first directory and stays on its file system: the rootfs has /proc and /sys mounted.
pub fn delete_extracted(drop: &[String]) -> String {
    let q = crate::util::shell_quote;
    let mut roots: Vec<String> = Vec::new();
    for glob in drop {
        let top = glob.trim_start_matches('/').split('/').next().unwrap_or_default();
        if !top.is_empty() && !top.contains(['*', '?', '[']) && !roots.contains(&top.to_string()) {
            roots.push(top.to_string());
        }
    }
    if roots.is_empty() {
        return "true".into();
    }
    let tests: Vec<String> = drop.iter().map(|g| format!("-path {}", q(g.trim_start_matches('/')))).collect();
    let roots: Vec<String> = roots.iter().map(|r| q(r)).collect();
    format!(r#"cd "$1" && find {} -xdev ! -type d \( {} \) -delete"#, roots.join(" "), tests.join(" -o "))
}

/// The image's own dpkg filter file (after the base's `99mmdebstrap`).
pub const IMAGE_FILTERS: &str = "trust-sandbox-drop";

/// mmdebstrap's own `merged-usr` hook directory, beside the mmdebstrap that runs
/// (`<prefix>/bin/mmdebstrap` → `<prefix>/share/mmdebstrap/hooks/merged-usr`), so that Debian's
/// and Nix's mmdebstrap both find theirs.
pub fn merged_usr_hooks() -> Result<PathBuf> {
    let bin = which::which("mmdebstrap").context("mmdebstrap is not installed")?;
    let bin = std::fs::canonicalize(&bin).unwrap_or(bin);
    hooks_beside(&bin).with_context(|| {
        format!(
            "mmdebstrap at {} has no hooks/merged-usr beside it (share/mmdebstrap/hooks); reinstall mmdebstrap",
            bin.display()
        )
    })
}

fn hooks_beside(bin: &Path) -> Option<PathBuf> {
    let prefix = bin.parent()?.parent()?;
    let dir = prefix.join("share/mmdebstrap/hooks/merged-usr");
    dir.join("setup00.sh").is_file().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_one_dpkg_config_file_in_order() {
        assert_eq!(filter_hook(&[]), None);
        let hook =
            filter_hook(&["path-exclude=/usr/bin/qemu-*".into(), "path-include=/usr/bin/qemu-x86_64".into()]).unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/dpkg/dpkg.cfg.d")).unwrap();
        let ok = std::process::Command::new("sh").args(["-c", &hook, "hook"]).arg(root.path()).status().unwrap();
        assert!(ok.success());
        let written = std::fs::read_to_string(root.path().join("etc/dpkg/dpkg.cfg.d").join(IMAGE_FILTERS)).unwrap();
        assert_eq!(written, "path-exclude=/usr/bin/qemu-*\npath-include=/usr/bin/qemu-x86_64\n");
        assert!(IMAGE_FILTERS > "99mmdebstrap", "read after the base's filters");
    }

    #[test]
    fn the_base_drop_deletes_matching_files_and_keeps_directories() {
        let root = tempfile::tempdir().unwrap();
        let gconv = root.path().join("usr/lib/x86_64-linux-gnu/gconv");
        std::fs::create_dir_all(gconv.join("gconv-modules.d")).unwrap();
        for f in ["IBM1399.so", "gconv-modules.d/x.conf"] {
            std::fs::write(gconv.join(f), "").unwrap();
        }
        std::fs::write(root.path().join("usr/lib/x86_64-linux-gnu/libc.so.6"), "").unwrap();
        let hook = delete_extracted(&["/usr/lib/*/gconv/*".to_string()]);
        let ok = std::process::Command::new("sh").args(["-c", &hook, "hook"]).arg(root.path()).status().unwrap();
        assert!(ok.success(), "{hook}");
        assert!(!gconv.join("IBM1399.so").exists() && !gconv.join("gconv-modules.d/x.conf").exists());
        assert!(gconv.join("gconv-modules.d").is_dir());
        assert!(root.path().join("usr/lib/x86_64-linux-gnu/libc.so.6").exists());
        assert_eq!(delete_extracted(&[]), "true");
    }

    #[test]
    fn the_hooks_are_found_beside_the_binary() {
        let root = tempfile::tempdir().unwrap();
        let hooks = root.path().join("share/mmdebstrap/hooks/merged-usr");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::create_dir_all(root.path().join("bin")).unwrap();
        let bin = root.path().join("bin/mmdebstrap");
        assert_eq!(hooks_beside(&bin), None, "a directory without the setup hook is not it");
        std::fs::write(hooks.join("setup00.sh"), "").unwrap();
        assert_eq!(hooks_beside(&bin), Some(hooks));
    }
}
