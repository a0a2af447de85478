//! podman after a reboot it could not see. podman keeps its lock table in shared memory, which a
//! reboot empties, and learns that the machine rebooted from its tmp dir (`/run/libpod` for root)
//! and run root: on a tmpfs they vanish with the reboot and podman renumbers its locks on its next
//! start. Where `/run` is an ordinary directory (as on the machines this project is built on),
//! podman carries on with the old lock numbers against an empty table, and new objects collide
//! with old ones. Measured after a restart of such a machine: `up` of a podman sandbox whose
//! volumes survived failed with `container … and volume <name>-db share lock ID 0: deadlock due
//! to lock mismatch`; `podman system renumber` repaired it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::Shell;

use super::{Engine, EngineKind};

/// What to do when podman reports a lock mismatch: appended to the engine's own error.
pub fn lock_mismatch_hint(kind: EngineKind, text: &str) -> Option<String> {
    let t = text.to_ascii_lowercase();
    let mismatch = t.contains("lock mismatch") || (t.contains("share lock id") && t.contains("deadlock"));
    (kind == EngineKind::Podman && mismatch).then(|| {
        "podman's lock table no longer matches its containers and volumes: the machine restarted while \
         podman's tmp dir was not on a tmpfs, so podman could not tell. Stop every podman container, then \
         run `podman system renumber` (`cargo xtask sandbox setup --yes` does it when no podman container runs)"
            .to_string()
    })
}

/// The directories whose loss tells podman that the machine restarted: its tmp dir and run root.
pub fn reboot_markers(sh: &Shell, engine: &Engine) -> Result<Vec<PathBuf>> {
    let info = engine.checked(sh, &["info", "--format", "{{.Store.RunRoot}}\t{{.Host.Security.Rootless}}"])?;
    let (run_root, rootless) = info.trim().split_once('\t').unwrap_or((info.trim(), "false"));
    Ok(vec![tmp_dir(rootless == "true"), PathBuf::from(run_root)])
}

/// podman's tmp dir: `[engine] tmp_dir` of containers.conf (the last file that sets it wins, as
/// podman reads them), else its default (under XDG_RUNTIME_DIR when podman runs rootless).
/// podman 4.3's `info` does not report it.
fn tmp_dir(rootless: bool) -> PathBuf {
    let mut files: Vec<PathBuf> = ["/usr/share/containers/containers.conf", "/etc/containers/containers.conf"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if let Ok(dir) = std::fs::read_dir("/etc/containers/containers.conf.d") {
        let mut dropins: Vec<PathBuf> =
            dir.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "conf")).collect();
        dropins.sort();
        files.extend(dropins);
    }
    // The last file that sets it wins: search from the end.
    let set = files.iter().rev().filter_map(|f| std::fs::read_to_string(f).ok()).find_map(|t| configured_tmp_dir(&t));
    set.map(PathBuf::from).unwrap_or_else(|| match std::env::var_os("XDG_RUNTIME_DIR").filter(|_| rootless) {
        Some(run) => Path::new(&run).join("libpod/tmp"),
        None => PathBuf::from("/run/libpod"),
    })
}

fn configured_tmp_dir(conf: &str) -> Option<String> {
    let v: toml::Value = toml::from_str(conf).ok()?;
    v.get("engine")?.get("tmp_dir")?.as_str().map(str::to_string)
}

/// The file system type of the mount `path` lives on, from `/proc/self/mountinfo` text: the
/// longest mount point that is a prefix of the path.
pub fn fs_type_of(mountinfo: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else { continue };
        let Some(point) = before.split(' ').nth(4) else { continue };
        let point = unescape(point);
        let Some(fstype) = after.split(' ').next() else { continue };
        if path.starts_with(&point) && best.as_ref().is_none_or(|(len, _)| point.len() >= *len) {
            best = Some((point.len(), fstype.to_string()));
        }
    }
    best.map(|(_, t)| t)
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match u8::from_str_radix(rest.get(i + 1..i + 4).unwrap_or(""), 8) {
            Ok(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            Err(_) => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The markers among `paths` that a reboot would not clear (not on a tmpfs).
pub fn not_on_tmpfs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    Ok(paths
        .iter()
        .filter(|p| {
            let real = existing_ancestor(p);
            fs_type_of(&mountinfo, &real).as_deref() != Some("tmpfs")
        })
        .cloned()
        .collect())
}

fn existing_ancestor(p: &Path) -> PathBuf {
    p.ancestors().find_map(|a| std::fs::canonicalize(a).ok()).unwrap_or_else(|| PathBuf::from("/"))
}

/// What `setup` did about podman's locks.
#[derive(Debug, PartialEq, Eq)]
pub enum Renumber {
    /// Its tmp dir and run root are on a tmpfs: podman sees reboots itself.
    NotNeeded,
    /// Renumbered already during this boot.
    DoneThisBoot,
    /// Renumbered now.
    Done,
    /// Containers are running: renumbering now would pull locks from under them.
    Skipped { running: usize },
}

/// After a reboot podman could not see, renumbers its locks once, and only while no podman
/// container runs (other sandboxes' and other people's included). The boot it was done in is
/// recorded, so later calls during the same boot change nothing.
pub fn renumber_after_reboot(sh: &Shell, engine: &Engine, record: &Path) -> Result<Renumber> {
    if not_on_tmpfs(&reboot_markers(sh, engine)?)?.is_empty() {
        return Ok(Renumber::NotNeeded);
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").context("reading the boot id")?;
    let boot = boot.trim();
    if std::fs::read_to_string(record).is_ok_and(|r| r.trim() == boot) {
        return Ok(Renumber::DoneThisBoot);
    }
    let running = engine.checked(sh, &["ps", "--quiet"])?.lines().filter(|l| !l.trim().is_empty()).count();
    if running > 0 {
        return Ok(Renumber::Skipped { running });
    }
    engine.checked(sh, &["system", "renumber"])?;
    if let Some(dir) = record.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(record, format!("{boot}\n")).with_context(|| format!("writing {}", record.display()))?;
    Ok(Renumber::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measured_lock_mismatch_gets_the_fix() {
        let text = "Error: container 3f2a… and volume ts-db share lock ID 0: deadlock due to lock mismatch";
        let hint = lock_mismatch_hint(EngineKind::Podman, text).unwrap();
        assert!(hint.contains("podman system renumber"), "{hint}");
        assert!(lock_mismatch_hint(EngineKind::Podman, "Error: lock mismatch for pod 12").is_some());
        assert!(lock_mismatch_hint(EngineKind::Podman, "Error: no such container").is_none());
        assert!(lock_mismatch_hint(EngineKind::Docker, text).is_none(), "docker has no such locks");
    }

    #[test]
    fn the_longest_mount_point_decides() {
        let info = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:21 / /dev/shm rw shared:2 - tmpfs tmpfs rw
26 22 0:22 / /run rw,nosuid shared:3 - tmpfs tmpfs rw,mode=755
27 26 0:23 / /run/user/0 rw shared:4 - tmpfs tmpfs rw
28 22 0:24 / /mnt/with\\040space rw - xfs /dev/vdb rw
";
        assert_eq!(fs_type_of(info, Path::new("/run/libpod")).as_deref(), Some("tmpfs"));
        assert_eq!(fs_type_of(info, Path::new("/var/lib/containers")).as_deref(), Some("ext4"));
        assert_eq!(fs_type_of(info, Path::new("/runner")).as_deref(), Some("ext4"), "a prefix of the name is no mount");
        assert_eq!(fs_type_of(info, Path::new("/mnt/with space/x")).as_deref(), Some("xfs"));
        let without_run = info.lines().filter(|l| !l.contains(" /run ")).collect::<Vec<_>>().join("\n");
        assert_eq!(fs_type_of(&without_run, Path::new("/run/libpod")).as_deref(), Some("ext4"));
    }

    #[test]
    fn tmp_dir_comes_from_the_last_file_that_sets_it() {
        assert_eq!(configured_tmp_dir("[engine]\ntmp_dir = \"/var/run/libpod\"\n").as_deref(), Some("/var/run/libpod"));
        assert_eq!(configured_tmp_dir("[engine]\n#tmp_dir = \"/run/libpod\"\n"), None);
        assert_eq!(configured_tmp_dir("[containers]\ndefault_ulimits = []\n"), None);
    }
}
