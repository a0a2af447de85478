//! Compose v2, pinned, for `bench`'s baseline (what a docker user runs instead of `up`).
//!
//! Debian's bookworm has Compose v1 (`docker-compose` 1.29, Python) only; forky packages v2 as a
//! Go binary that needs nothing but libc, so it runs on bookworm as it is. The exact .deb is
//! fetched through a private apt configuration that knows forky alone (the host's apt sources and
//! preferences are not touched), checked against the pinned digest, and its binary kept in the
//! project's cache, called by its path: the host keeps Debian's v1 as `docker-compose` (the
//! export tests and the README use it), nothing is installed system-wide, and no root is needed
//! beyond what apt's download asks. Run standalone, the binary is the same program as the
//! `docker compose` plugin.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use crate::ui;

pub const PACKAGE: &str = "docker-compose";
pub const VERSION: &str = "2.40.3-3";
const SUITE: &str = "forky";
/// sha256 of the pinned .deb per Debian architecture. apt already checks every download against
/// the signed index; this makes a rebuild under the same version number show. An architecture
/// without an entry relies on apt's check alone.
const DEB_SHA256: &[(&str, &str)] = &[("amd64", "e7603d5e6df0f8404f7b03da478022b87d7b50644cffe68884b071e5cfc17fd3")];
/// Where the package puts the binary (`/usr/bin/docker-compose` links to it).
const BIN_IN_DEB: &str = "usr/libexec/docker/cli-plugins/docker-compose";

/// The binary's place in the cache: one directory per pinned version.
pub fn path() -> PathBuf {
    crate::util::cache_dir().join("tools").join(format!("{PACKAGE}-{VERSION}")).join("docker-compose")
}

/// The pinned Compose v2, fetched into the cache the first time.
pub fn ensure(sh: &Shell) -> Result<PathBuf> {
    let bin = path();
    if bin.is_file() && version_of(sh, &bin).is_ok() {
        return Ok(bin);
    }
    ui::status("Fetching", format!("Compose v2 ({PACKAGE} {VERSION} from Debian {SUITE}) for the bench's baseline"));
    fetch(sh, &bin).with_context(|| format!("fetching {PACKAGE} {VERSION} from Debian {SUITE}"))?;
    version_of(sh, &bin)?;
    Ok(bin)
}

fn fetch(sh: &Shell, bin: &Path) -> Result<()> {
    let lock = crate::images::lock::load()?;
    let apt = crate::images::private_apt(sh, &lock.debian.suite, None, &[SUITE.to_string()], true)?;
    let work = tempfile::Builder::new().prefix("trust-sandbox-compose-").tempdir()?;
    let pin = format!("{PACKAGE}={VERSION}");
    {
        let _dir = sh.push_dir(work.path());
        cmd!(sh, "apt-get download -qq {pin}")
            .env("APT_CONFIG", apt.path().join("apt.conf"))
            .quiet()
            .ignore_stdout()
            .run()
            .context("apt-get download")?;
    }
    let deb = std::fs::read_dir(work.path())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download left no .deb")?;
    let arch = cmd!(sh, "dpkg --print-architecture").quiet().read().context("asking dpkg for the architecture")?;
    check_digest(&std::fs::read(&deb)?, &arch)?;
    let tree = work.path().join("tree");
    cmd!(sh, "dpkg-deb -x {deb} {tree}").quiet().run().context("unpacking the .deb")?;
    let dir = bin.parent().expect("has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::util::write_mode(bin, &std::fs::read(tree.join(BIN_IN_DEB))?, 0o755)?;
    ui::status("Fetched", bin.display().to_string());
    Ok(())
}

fn check_digest(bytes: &[u8], arch: &str) -> Result<()> {
    let Some((_, want)) = DEB_SHA256.iter().find(|(a, _)| *a == arch.trim()) else { return Ok(()) };
    let got = crate::util::hex(&Sha256::digest(bytes));
    if got != *want {
        bail!("the {PACKAGE} {VERSION} .deb has sha256 {got}, the pin says {want}: the mirror serves another build");
    }
    Ok(())
}

/// `Docker Compose version 2.40.3-3`, or an error saying what answered instead.
pub fn version_of(sh: &Shell, bin: &Path) -> Result<String> {
    let out = cmd!(sh, "{bin} version").quiet().ignore_stderr().read().context("running Compose v2")?;
    let want = VERSION.split('-').next().unwrap_or(VERSION);
    if !out.contains(want) {
        bail!("{} says `{}`, not Compose {VERSION}", bin.display(), out.trim());
    }
    Ok(out.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_deb_is_accepted() {
        let err = check_digest(b"not the deb", "amd64\n").unwrap_err().to_string();
        assert!(err.contains("the pin says e7603d5e"), "{err}");
        // An architecture without a recorded digest relies on apt's own check.
        assert!(check_digest(b"anything", "riscv64").is_ok());
        assert!(path().ends_with("tools/docker-compose-2.40.3-3/docker-compose"));
    }
}
