//! A current Nix for checking the flake, installed by us: Debian's `nix-bin` in a throwaway root
//! (`mmdebstrap --variant=essential`) that is entered with `unshare --mount` + `chroot`. The host's
//! packages are not touched, and every mount lives only in the private mount namespace of one call,
//! so nothing stays mounted. The root is cached, keyed by the pinned package version.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::images::sources;
use crate::{host, ui};

/// Debian trixie's nix-bin: the newest Nix on a stable Debian suite the mirror serves (nixpkgs
/// 25.11 refuses Nix older than 2.18). Changing the pin makes a new root.
pub const SUITE: &str = "trixie";
pub const NIX_BIN: &str = "2.26.3+dfsg-1";

/// What `nix --version` prints for the pin.
const NIX_VERSION: &str = "2.26.3";

/// Flakes on; no build users, sandbox, binary caches or global registry: the root only
/// evaluates and instantiates, and must never reach the network.
pub const NIX_CONF: &str = "experimental-features = nix-command flakes\n\
build-users-group =\n\
sandbox = false\n\
substituters =\n\
flake-registry =\n";

/// Mount points inside the root: the flake's files (read-only) and a directory for results.
pub const SRC: &str = "/src";
pub const OUT: &str = "/out";

pub struct NixRoot {
    pub dir: PathBuf,
}

/// Where the root for the pinned version lives.
pub fn dir(cache: &Path) -> PathBuf {
    cache.join("nix-root").join(format!("{SUITE}-nix-bin-{NIX_BIN}"))
}

/// The cached root, or a new one (with consent: it downloads ~50 MB of .debs from the host's mirror).
pub fn ensure(sh: &Shell, cache: &Path, mirror: Option<&str>, yes: bool) -> Result<NixRoot> {
    let dir = dir(cache);
    if dir.join("etc/nix/nix.conf").is_file() {
        return Ok(NixRoot { dir });
    }
    if !host::consent(yes) {
        bail!(
            "checking the flake needs Nix {NIX_VERSION} in a throwaway Debian {SUITE} root ({}, ~215 MiB): \
             re-run with --yes to create it (CI=true implies it)",
            dir.display()
        );
    }
    if !is_root() {
        bail!("creating and entering the Nix root needs root (mmdebstrap, unshare --mount, chroot): run as root");
    }
    if which::which("mmdebstrap").is_err() {
        host::apt_install(sh, &["mmdebstrap"], yes)?;
    }
    let mirror = match mirror {
        Some(m) => m.trim_end_matches('/').to_string(),
        None => host_mirror(Path::new("/etc/apt"))?,
    };
    let parent = dir.parent().context("the root has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // Built beside and renamed: an interrupted build never looks like a finished root.
    let work = parent.join(format!(".build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let include = format!("--include=nix-bin={NIX_BIN}");
    let source = format!("deb {mirror} {SUITE} main");
    ui::status("Creating", format!("Nix {NIX_VERSION} root from {mirror} ({SUITE}, nix-bin {NIX_BIN})"));
    let started = Instant::now();
    let built = cmd!(sh, "mmdebstrap --quiet --variant=essential {include} {SUITE} {work} {source}").run();
    if let Err(err) = built {
        let _ = std::fs::remove_dir_all(&work);
        return Err(err).with_context(|| {
            format!(
                "mmdebstrap could not install nix-bin {NIX_BIN} from {mirror} ({SUITE}); if the mirror no longer \
                 serves it, pass --mirror with a snapshot.debian.org URL or move the pin in xtask/src/nixcheck/root.rs"
            )
        });
    }
    for d in ["etc/nix", "nix", &SRC[1..], &OUT[1..]] {
        std::fs::create_dir_all(work.join(d)).with_context(|| format!("creating {d} in the Nix root"))?;
    }
    std::fs::write(work.join("etc/nix/nix.conf"), NIX_CONF).context("writing nix.conf in the Nix root")?;
    if let Err(err) = std::fs::rename(&work, &dir) {
        let _ = std::fs::remove_dir_all(&work);
        // Another run (a parallel test, say) finished the same root first: use that one.
        if !dir.join("etc/nix/nix.conf").is_file() {
            return Err(err).with_context(|| format!("moving the Nix root to {}", dir.display()));
        }
    }
    ui::status("Created", format!("Nix root in {:.1} s: {}", started.elapsed().as_secs_f64(), dir.display()));
    let root = NixRoot { dir };
    let version = root.nix(Path::new("/"), None, &["nix", "--version"])?;
    if !version.stdout.contains(NIX_VERSION) {
        bail!("the Nix root's `nix --version` says {:?}, not {NIX_VERSION}", version.stdout.trim());
    }
    Ok(root)
}

#[derive(Debug)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl NixRoot {
    /// Runs `argv` inside the root with `src` at /src (read-only) and `out` at /out. The store
    /// (/nix), /tmp and /proc are fresh for each call and vanish with its mount namespace.
    pub fn nix(&self, src: &Path, out: Option<&Path>, argv: &[&str]) -> Result<Output> {
        // Positional parameters keep paths out of the script's text.
        let script = r#"set -e
root=$1 src=$2 out=$3
shift 3
mount -t tmpfs -o mode=0755 nix-store "$root/nix"
mount -t tmpfs -o mode=1777 nix-tmp "$root/tmp"
mount -t proc proc "$root/proc"
mount --bind "$src" "$root/src"
mount -o remount,bind,ro "$root/src"
[ -z "$out" ] || mount --bind "$out" "$root/out"
cd "$root"
exec chroot . env -i HOME=/tmp PATH=/usr/bin:/bin TERM=dumb "$@""#;
        let out_arg = out.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let output = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"])
            .arg(&self.dir)
            .arg(src)
            .arg(out_arg)
            .args(argv)
            .output()
            .with_context(|| format!("running {} in the Nix root", argv.join(" ")))?;
        Ok(Output {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// The first Debian mirror in the host's apt sources: one serving a release's `main` (not
/// -security or -updates, which have no trixie main; not a third-party repository).
pub fn host_mirror(etc_apt: &Path) -> Result<String> {
    let all = sources::all_from_host(etc_apt);
    all.iter()
        .find(|s| {
            s.uri.contains("debian")
                && s.components.iter().any(|c| c == "main")
                && s.suites.iter().any(|x| !x.contains('-') && x != "nodistro")
        })
        .map(|s| s.uri.trim_end_matches('/').to_string())
        .with_context(|| {
            format!("no Debian mirror in {}: pass --mirror URL (e.g. http://deb.debian.org/debian)", etc_apt.display())
        })
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_keyed_by_the_pinned_version() {
        let d = dir(Path::new("/c"));
        assert_eq!(d, Path::new("/c/nix-root/trixie-nix-bin-2.26.3+dfsg-1"));
        assert!(NIX_BIN.starts_with(NIX_VERSION));
    }

    #[test]
    fn nix_conf_turns_off_everything_that_would_reach_out() {
        for line in
            ["experimental-features = nix-command flakes", "substituters =", "flake-registry =", "sandbox = false"]
        {
            assert!(NIX_CONF.lines().any(|l| l == line), "{line}");
        }
    }

    #[test]
    fn the_mirror_comes_from_the_main_suite_not_security() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sources.list.d")).unwrap();
        std::fs::write(
            dir.path().join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://sec/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
             Types: deb\nURIs: https://x/apt\nSuites: cloud-sdk-bookworm\nComponents: main\n\n\
             Types: deb\nURIs: http://m/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n",
        )
        .unwrap();
        assert_eq!(host_mirror(dir.path()).unwrap(), "http://m/debian");
        let empty = tempfile::tempdir().unwrap();
        assert!(host_mirror(empty.path()).unwrap_err().to_string().contains("--mirror"));
    }
}
