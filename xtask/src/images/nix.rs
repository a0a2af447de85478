//! The Nix image source: `nix build <flake>#image-<name>` leaves a docker-archive tarball
//! (dockerTools.buildLayeredImage) in the store. Loading and tagging it is the caller's job;
//! the tag comes from the store hash, so an unchanged image is never loaded twice.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// Passed on every call so that flakes work without the user editing nix.conf.
const FEATURES: &str = "nix-command flakes";

/// The pinned nixpkgs refuses to evaluate on an older Nix (its lib/minver.nix says 2.18.0),
/// so an older `nix` is as good as none. Debian bookworm's nix-bin (2.8) is one.
const MIN_VERSION: (u32, u32) = (2, 18);

const INSTALL_HINT: &str = "install Nix 2.18 or newer (https://nixos.org/download) and retry, \
     or build the images from Debian with `--images debian`";

/// The characters of Nix's base-32 alphabet, in which store hashes are written.
const NIX_BASE32: &str = "0123456789abcdfghijklmnpqrsvwxyz";
const STORE_HASH_LEN: usize = 32;
const TAG_HASH_LEN: usize = 12;

/// True when a `nix` on PATH is new enough for the pinned nixpkgs and can evaluate with
/// flakes enabled. Two quick local calls; nothing is fetched.
pub fn nix_usable(sh: &Shell) -> bool {
    match nix_version(sh) {
        Ok(version) if version >= MIN_VERSION => flakes_enabled(sh),
        _ => false,
    }
}

/// Set by the flake's NixOS VM test (nix/checks/e2e.nix): a directory of `<image>.tar.gz` links to
/// images already built, since the VM cannot evaluate the flake (no nixpkgs source, no network).
pub const PREBUILT_ENV: &str = "TRUST_SANDBOX_NIX_IMAGES";

/// Builds the flake's `image-<image>` package and returns the image tarball's store path.
pub fn build(sh: &Shell, flake_root: &Path, image: &str) -> Result<PathBuf> {
    check_image_name(image)?;
    if let Some(dir) = std::env::var_os(PREBUILT_ENV) {
        return prebuilt(Path::new(&dir), image);
    }
    let version = nix_version(sh).with_context(|| format!("no usable `nix` on PATH; {INSTALL_HINT}"))?;
    if version < MIN_VERSION {
        bail!(
            "nix {}.{} is too old for the pinned nixpkgs (needs {}.{}); {INSTALL_HINT}",
            version.0,
            version.1,
            MIN_VERSION.0,
            MIN_VERSION.1
        );
    }
    let root =
        std::fs::canonicalize(flake_root).with_context(|| format!("finding the flake at {}", flake_root.display()))?;
    let installable = installable(&root, image)?;
    let features = FEATURES;
    // Build output goes to stderr, which stays on the terminal: a first build takes a while.
    let out = cmd!(sh, "nix --extra-experimental-features {features} build --no-link --print-out-paths {installable}")
        .quiet()
        .read()
        .with_context(|| format!("nix build {installable}"))?;
    let path = out_path(&out).with_context(|| format!("reading what nix build {installable} printed"))?;
    if !path.exists() {
        bail!("nix build {installable} reported {}, which does not exist", path.display());
    }
    Ok(path)
}

/// The store path behind `<dir>/<image>.tar.gz`.
fn prebuilt(dir: &Path, image: &str) -> Result<PathBuf> {
    let link = dir.join(format!("{image}.tar.gz"));
    let path = std::fs::canonicalize(&link)
        .with_context(|| format!("{PREBUILT_ENV}={} has no image {image} ({})", dir.display(), link.display()))?;
    store_tag(&path).with_context(|| format!("{} (from {PREBUILT_ENV})", link.display()))?;
    Ok(path)
}

/// `nix-<first 12 characters of the store hash>`: the same image contents always give the
/// same tag, different contents a different one.
pub fn store_tag(store_path: &Path) -> Result<String> {
    let hash = store_path
        .components()
        .find_map(|c| match c {
            Component::Normal(name) => name.to_str().and_then(store_hash),
            _ => None,
        })
        .with_context(|| {
            format!("{} is not a Nix store path (<store>/<32-character hash>-<name>)", store_path.display())
        })?;
    Ok(format!("nix-{}", &hash[..TAG_HASH_LEN]))
}

fn nix_version(sh: &Shell) -> Result<(u32, u32)> {
    let out = cmd!(sh, "nix --version").quiet().ignore_stderr().read().context("running `nix --version`")?;
    parse_version(&out).with_context(|| format!("reading the version in {:?}", out.trim()))
}

fn flakes_enabled(sh: &Shell) -> bool {
    let features = FEATURES;
    // `getFlake` exists only when the flakes feature is on; evaluating this touches no
    // flake, input or network.
    let expr = "builtins ? getFlake";
    cmd!(sh, "nix --extra-experimental-features {features} eval --expr {expr}")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|out| out.trim() == "true")
}

/// The version from `nix --version`: "nix (Nix) 2.18.1", "nix (Determinate Nix 3.8.5) 2.31.1"
/// and "nix (Lix, like Nix) 2.91.1" all end with it.
fn parse_version(out: &str) -> Option<(u32, u32)> {
    let last = out.split_whitespace().last()?;
    let mut parts = last.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Image names become part of a flake reference, so only plain names pass.
fn check_image_name(image: &str) -> Result<()> {
    let plain = !image.is_empty()
        && image.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !plain {
        bail!("{image:?} is not an image name (lowercase letters, digits, '-' and '_')");
    }
    Ok(())
}

/// A bare absolute path, not `path:`: Nix then reads the checkout through git and copies
/// only tracked files, never `target/`.
fn installable(root: &Path, image: &str) -> Result<String> {
    let root = root.to_str().with_context(|| format!("the flake path {} is not UTF-8", root.display()))?;
    if !root.starts_with('/') {
        bail!("the flake path {root} is not absolute; nix would read it as a registry name");
    }
    if root.contains(['#', '?']) {
        bail!("the flake path {root} contains '#' or '?', which end a flake reference");
    }
    Ok(format!("{root}#image-{image}"))
}

/// `--print-out-paths` prints one line per output; an image has only `out`.
fn out_path(stdout: &str) -> Result<PathBuf> {
    let line = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).context("nix build printed no store path")?;
    if !line.starts_with('/') {
        bail!("nix build printed {line:?}, not a store path");
    }
    Ok(PathBuf::from(line))
}

fn store_hash(name: &str) -> Option<&str> {
    let hash = name.get(..STORE_HASH_LEN)?;
    let is_hash = hash.chars().all(|c| NIX_BASE32.contains(c))
        && name[STORE_HASH_LEN..].starts_with('-')
        && name.len() > STORE_HASH_LEN + 1;
    is_hash.then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "/nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f-notary.tar.gz";

    #[test]
    fn store_tag_takes_twelve_characters_of_the_hash() {
        assert_eq!(store_tag(Path::new(IMAGE)).unwrap(), "nix-0c7kq8h1x2z9");
    }

    #[test]
    fn store_tag_works_for_other_store_dirs_and_paths_inside_an_output() {
        let path = Path::new("/home/me/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-db.tar.gz");
        assert_eq!(store_tag(path).unwrap(), "nix-zzzzzzzzzzzz");
        let inside = Path::new("/nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f-x/bin/x");
        assert_eq!(store_tag(inside).unwrap(), "nix-0c7kq8h1x2z9");
    }

    #[test]
    fn store_tag_rejects_what_is_no_store_path() {
        for path in [
            "/tmp/notary.tar.gz",
            "relative",
            "",
            // 31 characters
            "/nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4-notary",
            // 'e', 'o', 'u' and 't' are not in Nix's base-32 alphabet
            "/nix/store/ec7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f-notary",
            "/nix/store/0C7KQ8H1X2Z9MMV2Y5PB3A9AJW2Q4L4F-notary",
            // a hash with no name
            "/nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f-",
            "/nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f",
        ] {
            assert!(store_tag(Path::new(path)).is_err(), "{path:?} was accepted");
        }
    }

    #[test]
    fn versions_are_read_from_every_known_spelling() {
        assert_eq!(parse_version("nix (Nix) 2.8.0\n"), Some((2, 8)));
        assert_eq!(parse_version("nix (Nix) 2.18.1"), Some((2, 18)));
        assert_eq!(parse_version("nix (Determinate Nix 3.8.5) 2.31.1"), Some((2, 31)));
        assert_eq!(parse_version("nix (Lix, like Nix) 2.91.1"), Some((2, 91)));
        assert_eq!(parse_version("nix (Nix) 2.24pre20240101_dirty"), None);
        assert_eq!(parse_version(""), None);
        assert!((2, 8) < MIN_VERSION && (2, 18) >= MIN_VERSION && (3, 0) >= MIN_VERSION);
    }

    #[test]
    fn prebuilt_images_are_store_paths_behind_links() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f-notary.tar.gz");
        std::fs::create_dir_all(store.parent().unwrap()).unwrap();
        std::fs::write(&store, "").unwrap();
        let links = dir.path().join("images");
        std::fs::create_dir(&links).unwrap();
        std::os::unix::fs::symlink(&store, links.join("notary.tar.gz")).unwrap();
        std::fs::write(links.join("db.tar.gz"), "").unwrap();
        let found = prebuilt(&links, "notary").unwrap();
        assert_eq!(store_tag(&found).unwrap(), "nix-0c7kq8h1x2z9");
        assert!(prebuilt(&links, "registry").unwrap_err().to_string().contains("has no image registry"));
        assert!(prebuilt(&links, "db").is_err(), "a file outside the store is no image");
    }

    #[test]
    fn installable_is_an_absolute_path_with_the_image_package() {
        assert_eq!(installable(Path::new("/work/main"), "notary").unwrap(), "/work/main#image-notary");
        assert!(installable(Path::new("work/main"), "notary").is_err());
        assert!(installable(Path::new("/work/a#b"), "notary").is_err());
        assert!(installable(Path::new("/work/a?b"), "notary").is_err());
    }

    #[test]
    fn only_plain_image_names_reach_nix() {
        for ok in ["notary", "db", "testimage", "image-2", "a_b"] {
            assert!(check_image_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Notary", "a#b", "../x", "a b", "x?y", "a.b"] {
            assert!(check_image_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_last_printed_line_is_the_store_path() {
        let out = format!("\n{IMAGE}\n\n");
        assert_eq!(out_path(&out).unwrap(), PathBuf::from(IMAGE));
        assert!(out_path("").is_err());
        assert!(out_path("  \n").is_err());
        assert!(out_path("error: something\n").is_err());
    }
}
