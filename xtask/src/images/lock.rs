//! `xtask/data/images.lock`: exact Debian package pins per image, and the content hash that tags
//! each built image (so an unchanged entry is reused and a changed one rebuilt).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped when the way an image is made from its entry changes, so old tags stop matching.
/// 3: the base is merged-/usr without the usrmerge package (no perl in it) and keeps no `*-old`
/// backups of dpkg's and debconf's databases; images apply their `drop`/`keep` lists.
pub const RECIPE_VERSION: u32 = 3;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub debian: DebianBase,
    pub images: BTreeMap<String, LockedImage>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DebianBase {
    pub suite: String,
    pub variant: String,
    /// Paths left out of the base, so out of every image (dpkg path-exclude globs, as in an
    /// image's `drop`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    /// The Debian suite of this image's own base, when it is not the lock's (the consumer's
    /// skopeo and podman come from trixie and need its glibc: mixed into bookworm they would
    /// replace most of the base). Such an image gets a base layer of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// Suites besides the base's that this image's pins come from (the signers' cosign and
    /// notation exist only in forky). Every package that is not pinned, dependencies included,
    /// still comes from the base suite: the image's apt gives these suites a low priority.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_suites: Vec<String>,
    /// Paths of the installed packages that dpkg leaves out of this image (`--path-exclude`
    /// globs): what the image's services never run. `{arch}` stands for the machine's
    /// architecture as `uname -m` names it (x86_64, aarch64).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// Exceptions to `drop`, installed after all (`--path-include`, applied after the drops).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
    pub packages: BTreeMap<String, String>,
}

pub fn path() -> PathBuf {
    crate::table::source_root().join("xtask/data/images.lock")
}

pub fn load() -> Result<Lock> {
    let p = path();
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    parse(&text).with_context(|| format!("parsing {}", p.display()))
}

pub fn parse(text: &str) -> Result<Lock> {
    let lock: Lock = toml::from_str(text)?;
    for glob in &lock.debian.drop {
        check_path_glob("the base", glob)?;
    }
    for (name, image) in &lock.images {
        if let Some(suite) = &image.suite {
            if suite == &lock.debian.suite || !valid_package_name(suite) {
                bail!("image `{name}`: suite `{suite}` must be a Debian suite name other than the lock's (or be left out)");
            }
        }
        let base = image.suite.as_ref().unwrap_or(&lock.debian.suite);
        for suite in &image.extra_suites {
            if suite == base || !valid_package_name(suite) {
                bail!("image `{name}`: extra suite `{suite}` must be a Debian suite name other than the base's");
            }
        }
        if image.packages.is_empty() {
            bail!("image `{name}` pins no packages");
        }
        for glob in image.drop.iter().chain(&image.keep) {
            check_path_glob(name, glob)?;
        }
        if image.drop.is_empty() && !image.keep.is_empty() {
            bail!("image `{name}`: `keep` makes exceptions to `drop`, which is empty");
        }
        for (pkg, version) in &image.packages {
            if !valid_package_name(pkg) {
                bail!("image `{name}`: `{pkg}` is not a Debian package name");
            }
            if version.trim().is_empty() || version.contains(char::is_whitespace) {
                bail!("image `{name}`: package `{pkg}` needs an exact version, got `{version}`");
            }
        }
    }
    Ok(lock)
}

/// A drop/keep entry as dpkg reads a path filter: absolute, one token, no placeholder but `{arch}`.
fn check_path_glob(image: &str, glob: &str) -> Result<()> {
    let image = if image == "the base" { image.to_string() } else { format!("image `{image}`") };
    let without_arch = glob.replace(ARCH_PLACEHOLDER, "");
    let top = glob.trim_start_matches('/').split('/').next().unwrap_or_default();
    if !glob.starts_with('/')
        || glob.contains(char::is_whitespace)
        || without_arch.contains(['{', '}'])
        || top.is_empty()
        || top.contains(['*', '?', '['])
    {
        bail!(
            "{image}: `{glob}` is not a path filter: an absolute path or glob under a named top directory, no spaces, `{ARCH_PLACEHOLDER}` the only placeholder"
        );
    }
    Ok(())
}

/// In a drop/keep entry: the machine's architecture (`uname -m`), e.g. to keep qemu's own emulator.
pub const ARCH_PLACEHOLDER: &str = "{arch}";

/// Debian policy: lowercase letters, digits, + - . ; at least two characters, starting alphanumeric.
fn valid_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

impl Lock {
    pub fn image(&self, name: &str) -> Result<&LockedImage> {
        self.images.get(name).with_context(|| format!("images.lock has no entry for image `{name}`"))
    }

    /// The suite of the base `name` is built on.
    pub fn suite_of(&self, name: &str) -> Result<&str> {
        Ok(self.image(name)?.suite.as_deref().unwrap_or(&self.debian.suite))
    }

    /// The canonical text of one entry: what the tag hashes, and nothing else.
    pub fn canonical_entry(&self, name: &str) -> Result<String> {
        let image = self.image(name)?;
        let mut s = format!(
            "trust-sandbox-image recipe={RECIPE_VERSION}\nimage={name}\nsuite={}\nvariant={}\n",
            self.suite_of(name)?,
            self.debian.variant
        );
        // The base is part of every image: what it leaves out is part of every entry.
        if !self.debian.drop.is_empty() {
            s.push_str(&format!("base_drop={}\n", self.debian.drop.join(" ")));
        }
        // Only images that name extra suites get the line, so every other tag stays as it was.
        if !image.extra_suites.is_empty() {
            s.push_str(&format!("extra_suites={}\n", image.extra_suites.join(",")));
        }
        for (key, globs) in [("drop", &image.drop), ("keep", &image.keep)] {
            if !globs.is_empty() {
                s.push_str(&format!("{key}={}\n", globs.join(" ")));
            }
        }
        for (pkg, version) in &image.packages {
            s.push_str(&format!("{pkg}={version}\n"));
        }
        Ok(s)
    }

    /// Twelve hex characters of sha256 over the canonical entry.
    pub fn tag(&self, name: &str) -> Result<String> {
        let digest = Sha256::digest(self.canonical_entry(name)?.as_bytes());
        Ok(crate::util::hex(&digest)[..12].to_string())
    }

    /// dpkg's path filters for `image` on a machine of `arch` (`uname -m`): every drop, then every
    /// keep, since dpkg lets the last matching filter decide.
    pub fn path_filters(&self, name: &str, arch: &str) -> Result<Vec<String>> {
        let image = self.image(name)?;
        let filter = |kind: &str, glob: &String| format!("path-{kind}={}", glob.replace(ARCH_PLACEHOLDER, arch));
        Ok(image
            .drop
            .iter()
            .map(|g| filter("exclude", g))
            .chain(image.keep.iter().map(|g| filter("include", g)))
            .collect())
    }

    /// `pkg=version` arguments for apt.
    pub fn apt_pins(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.image(name)?.packages.iter().map(|(p, v)| format!("{p}={v}")).collect())
    }

    pub fn render(&self) -> Result<String> {
        let header = "# trust-sandbox image lock: the exact Debian packages of each image.\n\
# An image is tagged by the hash of its entry, so editing an entry rebuilds that image and only that one.\n\
# `cargo xtask sandbox images lock --update` moves every pin to what the mirror serves now.\n\n";
        Ok(format!("{header}{}", toml::to_string(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[debian]
suite = "bookworm"
variant = "minbase"

[images.notary.packages]
notary = "0.7.0+ds1-2+b6"
ca-certificates = "20250419~deb12u2"

[images.registry.packages]
docker-registry = "2.8.2+ds1-1"
"#;

    #[test]
    fn the_shipped_lock_parses_and_covers_every_image_of_the_spec() {
        let lock = load().unwrap();
        let spec = crate::table::load().unwrap();
        for image in spec.images.keys() {
            assert!(lock.images.contains_key(image), "images.lock lacks {image}");
        }
        assert_eq!(lock.image("notary").unwrap().packages["notary"], "0.7.0+ds1-2+b6");
    }

    #[test]
    fn tag_is_stable_and_twelve_hex() {
        let lock = parse(SAMPLE).unwrap();
        let a = lock.tag("notary").unwrap();
        assert_eq!(a, lock.tag("notary").unwrap());
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn tag_changes_only_with_its_own_entry() {
        let lock = parse(SAMPLE).unwrap();
        let mut changed = lock.clone();
        changed.images.get_mut("registry").unwrap().packages.insert("docker-registry".into(), "2.8.3".into());
        assert_eq!(lock.tag("notary").unwrap(), changed.tag("notary").unwrap());
        assert_ne!(lock.tag("registry").unwrap(), changed.tag("registry").unwrap());
        let mut suite = lock.clone();
        suite.debian.suite = "trixie".into();
        assert_ne!(lock.tag("notary").unwrap(), suite.tag("notary").unwrap());
    }

    #[test]
    fn tag_ignores_formatting_and_order() {
        let reordered = SAMPLE.replace(
            "notary = \"0.7.0+ds1-2+b6\"\nca-certificates = \"20250419~deb12u2\"",
            "ca-certificates   =   \"20250419~deb12u2\"\n# comment\nnotary = \"0.7.0+ds1-2+b6\"",
        );
        assert_ne!(reordered, SAMPLE);
        assert_eq!(parse(SAMPLE).unwrap().tag("notary").unwrap(), parse(&reordered).unwrap().tag("notary").unwrap());
    }

    #[test]
    fn pins_are_apt_arguments() {
        let lock = parse(SAMPLE).unwrap();
        assert_eq!(lock.apt_pins("notary").unwrap(), ["ca-certificates=20250419~deb12u2", "notary=0.7.0+ds1-2+b6"]);
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(parse(&SAMPLE.replace("2.8.2+ds1-1", "")).is_err());
        assert!(parse(&SAMPLE.replace("docker-registry =", "Docker_Registry =")).is_err());
        assert!(parse(&format!("{SAMPLE}\n[images.empty.packages]\n")).is_err());
        assert!(parse(&SAMPLE.replace("[debian]", "[debian]\nmirror = \"x\"")).is_err());
        assert!(load().unwrap().image("nope").unwrap_err().to_string().contains("no entry for image `nope`"));
    }

    const TRIMMED: &str = r#"
[debian]
suite = "bookworm"
variant = "essential"

[images.client]
drop = ["/usr/bin/qemu-*", "/usr/bin/notary-server"]
keep = ["/usr/bin/qemu-{arch}"]

[images.client.packages]
qemu-user = "1:7.2"
"#;

    #[test]
    fn drops_then_keeps_become_dpkg_path_filters_for_the_machine() {
        let lock = parse(TRIMMED).unwrap();
        assert_eq!(
            lock.path_filters("client", "aarch64").unwrap(),
            [
                "path-exclude=/usr/bin/qemu-*",
                "path-exclude=/usr/bin/notary-server",
                "path-include=/usr/bin/qemu-aarch64"
            ]
        );
        // The lists are part of the entry, so changing them gives the image a new tag.
        let mut more = lock.clone();
        more.images.get_mut("client").unwrap().drop.push("/usr/bin/escrow".into());
        assert_ne!(lock.tag("client").unwrap(), more.tag("client").unwrap());
        assert!(lock.canonical_entry("client").unwrap().contains("keep=/usr/bin/qemu-{arch}\n"));
        assert!(parse(&lock.render().unwrap()).unwrap() == lock);
    }

    #[test]
    fn path_filters_must_be_absolute_single_tokens() {
        for bad in ["usr/bin/x", "/usr/bin/a b", "/usr/{lib}/x", "/*/bin/x", "/"] {
            let text = TRIMMED.replace("/usr/bin/notary-server", bad);
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("is not a path filter"), "{bad}: {err}");
        }
        let keep_only = TRIMMED.replace("drop = [\"/usr/bin/qemu-*\", \"/usr/bin/notary-server\"]\n", "");
        assert!(parse(&keep_only).unwrap_err().to_string().contains("exceptions to `drop`"));
    }

    #[test]
    fn an_image_on_its_own_suite_is_tagged_by_it_and_checked() {
        let own =
            format!("{SAMPLE}\n[images.consumer]\nsuite = \"trixie\"\n\n[images.consumer.packages]\nskopeo = \"1\"\n");
        let lock = parse(&own).unwrap();
        assert_eq!(lock.suite_of("consumer").unwrap(), "trixie");
        assert_eq!(lock.suite_of("notary").unwrap(), "bookworm");
        assert!(lock.canonical_entry("consumer").unwrap().contains("suite=trixie\n"));
        assert!(parse(&own.replace("suite = \"trixie\"", "suite = \"bookworm\"")).is_err());
        assert!(parse(&own.replace("suite = \"trixie\"", "suite = \"trixie\"\nextra_suites = [\"trixie\"]")).is_err());
        assert_eq!(parse(&lock.render().unwrap()).unwrap(), lock);
    }

    #[test]
    fn render_round_trips() {
        let lock = parse(SAMPLE).unwrap();
        assert_eq!(parse(&lock.render().unwrap()).unwrap(), lock);
    }
}
