//! The docker CLI a sandbox's client runs (`up --client-cli`): the client image's own (Debian
//! bookworm's docker.io 20.10, the default), one of the lock's `client_clis` (trixie's 26.1,
//! forky's 28.5), or a binary the user brings (`file:PATH`, e.g. Docker's own static build).
//!
//! An extra CLI is its `docker` binary alone, on one small layer over the client image, at
//! /usr/local/bin/docker: that directory comes first on the image's PATH, so every step, `shell`,
//! `exec` and the clock wrap (`command -v docker`) run it, while the client's dockerd and the
//! image's own CLI stay as they are. Why a layer rather than a bind mount of the binary (measured
//! here, 2 cores, load average ~10): the layer is 31–33 MB and loading the variant took 4–5 s once
//! per engine, where a mount costs nothing; but an image is what `export` names, what `docker
//! save` carries to another host, and what a scenario's own `client` container runs, so the
//! sandbox stays one set of images. The default client image is untouched: a variant is a separate
//! image (`client-cli-<id>`) that shares the client's layers.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xshell::Shell;

use super::debian::{self, Builder, Record, RecordLayer};
use super::lock::{Lock, LockedCli};
use super::{archive, layer, sources, SourceKind};
use crate::engine::Engine;
use crate::table::Spec;
use crate::ui;

/// The client image and the package its own docker comes from (pinned in `images.client`).
const CLIENT_IMAGE: &str = "client";
const OWN_PACKAGE: &str = "docker.io";
/// Where an extra CLI goes: /usr/local/bin is ahead of /usr/bin on every image's PATH.
pub const TARGET: &str = "usr/local/bin/docker";
/// Image names of the variants: `client-cli-26.1`, `client-cli-file`.
pub const IMAGE_PREFIX: &str = "client-cli-";
const FILE_PREFIX: &str = "file:";
/// Bumped when the way a variant is made changes, so old tags stop matching.
const RECIPE: u32 = 1;

/// What `--client-cli` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Choice {
    /// A CLI of the lock, by its ID: the docker release's MAJOR.MINOR (`20.10`, `26.1`, `28.5`).
    Pinned(String),
    /// A docker binary the user brings (`file:PATH`, made absolute), checked by its version.
    File(PathBuf),
}

impl Choice {
    /// `26.1` or `file:PATH`; a relative PATH is taken from the current directory.
    pub fn parse(text: &str) -> Result<Choice, String> {
        if let Some(path) = text.strip_prefix(FILE_PREFIX) {
            if path.is_empty() {
                return Err("file: needs the path of a docker binary, e.g. file:/usr/local/bin/docker".into());
            }
            let abs = std::path::absolute(path).map_err(|e| format!("resolving {path}: {e}"))?;
            return Ok(Choice::File(abs));
        }
        if is_id(text) {
            return Ok(Choice::Pinned(text.to_string()));
        }
        Err(format!(
            "`{text}` is neither a pinned client CLI (its docker release's MAJOR.MINOR, e.g. 26.1; `images lock` lists them) nor file:PATH"
        ))
    }
}

impl TryFrom<String> for Choice {
    type Error = String;
    fn try_from(s: String) -> Result<Choice, String> {
        Choice::parse(&s)
    }
}

impl From<Choice> for String {
    fn from(c: Choice) -> String {
        c.to_string()
    }
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Pinned(id) => f.write_str(id),
            Choice::File(p) => write!(f, "{FILE_PREFIX}{}", p.display()),
        }
    }
}

pub use super::lock::is_cli_id as is_id;

/// One pinned CLI, as the catalogue lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cli {
    pub id: String,
    pub suite: String,
    pub package: String,
    pub version: String,
    /// The docker release (`26.1.5`): the Debian version without epoch and packaging suffixes.
    pub release: String,
    /// The client image's own docker (no extra layer).
    pub own: bool,
    /// The nixpkgs attribute of the same release, if nixpkgs has one.
    pub nix: Option<String>,
    #[serde(skip)]
    binary: String,
}

impl Cli {
    pub fn describe(&self) -> String {
        let whose = if self.own { ", the client image's own" } else { "" };
        format!("{} (Debian {} {} {}{whose})", self.id, self.suite, self.package, self.version)
    }
}

/// `1:20.10.24+dfsg1-1+deb12u1+b6` → `20.10.24`.
pub fn release_of(debian_version: &str) -> String {
    let no_epoch = debian_version.split_once(':').map_or(debian_version, |(_, v)| v);
    no_epoch.split(['+', '-', '~']).next().unwrap_or(no_epoch).to_string()
}

/// `20.10.24` → `20.10`.
fn id_of(release: &str) -> String {
    release.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Every pinned CLI: the client image's own first, then the lock's `client_clis`.
pub fn catalogue(lock: &Lock) -> Result<Vec<Cli>> {
    let own = lock
        .image(CLIENT_IMAGE)?
        .packages
        .get(OWN_PACKAGE)
        .with_context(|| format!("images.lock: image `{CLIENT_IMAGE}` pins no {OWN_PACKAGE}"))?;
    let release = release_of(own);
    let mut out = vec![Cli {
        id: id_of(&release),
        suite: lock.debian.suite.clone(),
        package: OWN_PACKAGE.into(),
        version: own.clone(),
        release,
        own: true,
        nix: None,
        binary: String::new(),
    }];
    for (id, c) in &lock.client_clis {
        let LockedCli { suite, package, version, binary, nix } = c;
        let release = release_of(version);
        if id_of(&release) != *id {
            bail!("images.lock: client CLI `{id}` pins {package} {version}, which is docker {release}, not {id}");
        }
        if out.iter().any(|o| o.id == *id) {
            bail!("images.lock: client CLI `{id}` is the client image's own; list it only there");
        }
        out.push(Cli {
            id: id.clone(),
            suite: suite.clone(),
            package: package.clone(),
            version: version.clone(),
            release,
            own: false,
            nix: nix.clone(),
            binary: binary.clone(),
        });
    }
    Ok(out)
}

/// The release a `docker --version` line names, as written there (`Docker version 26.1.5+dfsg1,
/// build a72d7cd` → `26.1.5+dfsg1`): what reports record.
pub fn reported(text: &str) -> Option<&str> {
    let re = regex_lite::Regex::new(r"Docker version ([^,\s]+)").expect("valid regex");
    Some(re.captures(text)?.get(1)?.as_str())
}

/// A docker CLI release as a version (`26.1.5+dfsg1` → 26.1.5): only MAJOR.MINOR.PATCH count, so
/// Debian's suffixes and pre-releases compare like the release (what per-client expectations and
/// the refusal of docker 29 go by).
pub fn release_version(release: &str) -> Option<semver::Version> {
    let re = regex_lite::Regex::new(r"^v?(\d+)\.(\d+)\.(\d+)").expect("valid regex");
    let c = re.captures(release.trim())?;
    Some(semver::Version::new(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?))
}

/// The docker release a `docker --version` line names (`Docker version 28.2.2, build e6534b4`).
pub fn reported_release(text: &str) -> Option<semver::Version> {
    reported(text).and_then(release_version)
}

/// Refuses a docker CLI without content trust. Docker CLI 29 removed client-side content trust
/// (docker/cli#6603): it ignores DOCKER_CONTENT_TRUST, so a "trusted" pull is not verified, and
/// `docker trust` is no longer a command of the CLI (docker/cli#6733). The bound is sandbox.json's
/// `docker_cli_max_major`, the same one the Nix side holds its docker to.
pub fn check_supported(what: &str, major: u64, max_major: u32) -> Result<()> {
    if major > u64::from(max_major) {
        bail!(
            "{what} is docker CLI {major}, which has no content trust: docker CLI 29 removed client-side content trust (docker/cli#6603), so it ignores DOCKER_CONTENT_TRUST=1 and pulls without verifying anything, and `docker trust` is no longer part of the CLI (docker/cli#6733). Use a docker CLI {max_major} or older: --client-cli 28.5, or file:PATH of such a binary"
        );
    }
    Ok(())
}

/// What a sandbox's client runs, checked before `up` changes anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing asked for: the client image as built (Debian: docker.io 20.10; Nix: docker 28).
    Default,
    Pinned(Cli),
    /// The user's binary, its sha256 and the release it reported.
    File {
        path: PathBuf,
        sha256: String,
        release: semver::Version,
    },
}

impl Plan {
    /// One line for `up` and `versions`.
    pub fn describe(&self) -> String {
        match self {
            Plan::Default => "the client image's own".into(),
            Plan::Pinned(c) => c.describe(),
            Plan::File { path, release, .. } => format!("{FILE_PREFIX}{} (docker {release})", path.display()),
        }
    }
}

/// What a sandbox's recorded choice names, without running anything (`versions`).
pub fn describe_choice(lock: &Lock, choice: Option<&Choice>) -> String {
    match choice {
        None => "default (the client image's own docker)".to_string(),
        Some(Choice::Pinned(id)) => catalogue(lock)
            .ok()
            .and_then(|all| all.into_iter().find(|c| c.id == *id))
            .map_or_else(|| format!("{id} (not in images.lock)"), |c| c.describe()),
        Some(c @ Choice::File(_)) => format!("{c} (brought by the user)"),
    }
}

/// Checks `choice` against the lock (or runs the user's binary for its version) and refuses a CLI
/// without content trust.
pub fn plan(spec: &Spec, lock: &Lock, choice: Option<&Choice>) -> Result<Plan> {
    let max = spec.versions.docker_cli_max_major;
    match choice {
        None => Ok(Plan::Default),
        Some(Choice::Pinned(id)) => {
            let all = catalogue(lock)?;
            let Some(cli) = all.iter().find(|c| c.id == *id) else {
                let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
                bail!(
                    "no pinned client CLI `{id}`: the pinned ones are {} (xtask/data/images.lock); or bring a docker binary with --client-cli file:PATH",
                    ids.join(", ")
                );
            };
            let major = cli.release.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(u64::MAX);
            check_supported(&format!("client CLI {id} ({} {})", cli.package, cli.version), major, max)?;
            Ok(Plan::Pinned(cli.clone()))
        }
        Some(Choice::File(path)) => {
            let meta = std::fs::metadata(path)
                .with_context(|| format!("--client-cli file:{}: no such file", path.display()))?;
            if !meta.is_file() || std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 == 0 {
                bail!("--client-cli file:{}: not an executable file", path.display());
            }
            let out =
                Command::new(path).arg("--version").env_clear().stdin(Stdio::null()).output().with_context(|| {
                    format!("running {} --version (is it a docker CLI for this machine?)", path.display())
                })?;
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let release = reported_release(&text).with_context(|| {
                format!(
                    "{} --version printed no `Docker version X.Y.Z`: {}",
                    path.display(),
                    text.lines().next().unwrap_or("no output")
                )
            })?;
            check_supported(&format!("{}", path.display()), release.major, max)?;
            let sha256 = layer::sha256_file(path)?;
            Ok(Plan::File { path: path.clone(), sha256, release })
        }
    }
}

/// Puts the image the client runs under `plan` in place of the client image in `refs` (image
/// name → reference, as `images::ensure` returned it).
pub fn apply(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    (kind, opts): (SourceKind, &super::Options),
    plan: &Plan,
    refs: &mut BTreeMap<String, String>,
) -> Result<()> {
    let image = spec.client()?.image.clone();
    let client_ref = refs.get(&image).with_context(|| format!("no image for {image}"))?.clone();
    let reference = image_for(sh, engine, spec, kind, opts, plan, &client_ref)?;
    if *plan != Plan::Default {
        ui::info("Client CLI", format!("{} ({reference})", plan.describe()));
    }
    refs.insert(image, reference);
    Ok(())
}

/// The image the client runs under `plan`; `client_ref` is the client image `images::ensure` made
/// present. A variant is built (or taken from the cache) and loaded only when the engine lacks it.
pub fn image_for(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    kind: SourceKind,
    opts: &super::Options,
    plan: &Plan,
    client_ref: &str,
) -> Result<String> {
    match (plan, super::resolve(sh, kind)) {
        (Plan::Default, _) => Ok(client_ref.to_string()),
        (Plan::Pinned(c), SourceKind::Nix) if c.nix.is_some() => Ok(client_ref.to_string()),
        (Plan::Pinned(c), SourceKind::Nix) => bail!(
            "client CLI {} has no Nix counterpart: the pinned nixpkgs (nixos-25.11) has docker_25 and docker_28, no docker {}; the Nix client runs docker 28 (--client-cli 28.5). Use --images debian for {}",
            c.id,
            c.release,
            c.id
        ),
        (Plan::File { .. }, SourceKind::Nix) => bail!(
            "--client-cli file:PATH goes on the Debian client image (its layers are in the xtask's cache; the Nix image's are in the store): use --images debian"
        ),
        (Plan::Pinned(c), _) if c.own => Ok(client_ref.to_string()),
        (_, _) => debian_variant(sh, engine, spec, opts, plan, client_ref),
    }
}

/// Name and tag of a variant: the tag hashes the client image's tag and what the extra layer is
/// made from, so a new client or a new pin makes a new variant.
fn variant_name(plan: &Plan, client_tag: &str) -> Result<(String, String)> {
    let (id, what) = match plan {
        Plan::Pinned(c) => {
            (c.id.clone(), format!("suite={}\npackage={}={}\nbinary={}\n", c.suite, c.package, c.version, c.binary))
        }
        Plan::File { sha256, .. } => ("file".to_string(), format!("file={sha256}\n")),
        Plan::Default => bail!("the default client CLI has no variant image"),
    };
    let entry = format!("trust-sandbox client-cli recipe={RECIPE}\nclient={client_tag}\n{what}");
    Ok((format!("{IMAGE_PREFIX}{id}"), crate::util::hex(&Sha256::digest(entry.as_bytes()))[..12].to_string()))
}

/// Whether an engine image `client-cli-<id>:<tag>` is the variant the current lock makes
/// (`images list`, `images rm --stale`). A `file:` variant cannot be told from the lock: kept.
pub fn is_current(lock: &Lock, image: &str, tag: &str) -> bool {
    let Some(id) = image.strip_prefix(IMAGE_PREFIX) else { return false };
    if id == "file" {
        return true;
    }
    let Ok(client_tag) = lock.tag(CLIENT_IMAGE) else { return false };
    let Some(cli) = catalogue(lock).ok().and_then(|all| all.into_iter().find(|c| c.id == id && !c.own)) else {
        return false;
    };
    variant_name(&Plan::Pinned(cli), &client_tag).is_ok_and(|(_, t)| t == tag)
}

fn debian_variant(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    opts: &super::Options,
    plan: &Plan,
    client_ref: &str,
) -> Result<String> {
    let lock = super::lock::load()?;
    let client_tag = lock.tag(CLIENT_IMAGE)?;
    let (name, tag) = variant_name(plan, &client_tag)?;
    let reference = super::reference(&name, &tag);
    if opts.rebuild {
        engine.rmi(sh, &reference)?;
    } else if engine.image_exists(sh, &reference)? {
        return Ok(reference);
    }
    let builder =
        Builder { lock: &lock, cache_dir: crate::util::cache_dir().join("debian"), mirrors: opts.mirrors.clone() };
    let _guard = builder.lock_cache()?;
    // The client's layers: `ensure` just loaded its image, so they are in the cache (or rebuilt).
    let records = builder.prepare(&[(CLIENT_IMAGE, client_tag.as_str())], false)?;
    let client = records.get(CLIENT_IMAGE).with_context(|| format!("no layers for {client_ref}"))?;
    let binary = match plan {
        Plan::Pinned(c) => fetch(sh, &builder, c)?,
        Plan::File { path, .. } => path.clone(),
        Plan::Default => unreachable!("handled by image_for"),
    };
    let own = store_layer(&builder, &binary, &format!("{} (trust-sandbox {name}:{tag})", plan.describe()))?;
    let mut record = client.clone();
    record.layers.push(own);
    // Recorded like the images' own records, so the cache's garbage collection keeps the layer.
    crate::util::write_mode(
        &builder.cache_dir.join(format!("{name}-{tag}.json")),
        &serde_json::to_vec_pretty(&record)?,
        0o644,
    )?;
    load(sh, engine, spec, &builder, &reference, &record)?;
    Ok(reference)
}

/// The package's binary, extracted once into the cache (`clis/<package>_<version>/`). apt fetches
/// the exact version from the base's archive with the CLI's suite added (a private apt: the host's
/// is untouched) and checks it against the suite's signed index.
fn fetch(sh: &Shell, builder: &Builder<'_>, cli: &Cli) -> Result<PathBuf> {
    let dir = builder.cache_dir.join("clis").join(format!("{}_{}", cli.package, cli.version));
    let file_name = Path::new(&cli.binary).file_name().context("the binary has a file name")?;
    let out = dir.join(file_name);
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let base_suite = &builder.lock.debian.suite;
    let apt = super::private_apt_of_suite(sh, &builder.sources(base_suite)?, base_suite, &cli.suite)
        .with_context(|| format!("asking apt for {} from {}", cli.package, cli.suite))?;
    let download = tempfile::Builder::new().prefix(".download-").tempdir_in(&dir)?;
    let pin = format!("{}={}", cli.package, cli.version);
    ui::status("Fetching", format!("{pin} from Debian {}", cli.suite));
    let _in = sh.push_dir(download.path());
    xshell::cmd!(sh, "apt-get download -q -o APT::Sandbox::User=root {pin}")
        .env("APT_CONFIG", apt.path().join("apt.conf"))
        .quiet()
        .ignore_stdout()
        .run()
        .map_err(|e| missing_pin(&pin, &cli.suite, e))?;
    let deb = std::fs::read_dir(download.path())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download left no .deb for {pin}"))?;
    drop(_in);
    let staged = extract(&deb, &cli.binary, &dir)?;
    staged.persist(&out).with_context(|| format!("storing {}", out.display()))?;
    Ok(out)
}

fn missing_pin(pin: &str, suite: &str, e: xshell::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "apt could not fetch {pin} from Debian {suite} ({e}). If the mirror no longer serves it, move the pin: `cargo xtask sandbox images lock --update`, or fetch from a snapshot: `--mirror http://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ>/`"
    )
}

/// `binary` (a path inside the package) out of a .deb's data, as a 0755 temp file in `dir`.
fn extract(deb: &Path, binary: &str, dir: &Path) -> Result<tempfile::NamedTempFile> {
    let mut child = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running dpkg-deb (Debian's dpkg)")?;
    let mut found = None;
    let mut archive = tar::Archive::new(child.stdout.take().expect("piped"));
    for entry in archive.entries().context("reading the package's data")? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path.strip_prefix(".").unwrap_or(&path) == Path::new(binary) {
            let mut tmp = tempfile::Builder::new().prefix(".binary-").tempfile_in(dir)?;
            std::io::copy(&mut entry, tmp.as_file_mut())?;
            tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            found = Some(tmp);
            break;
        }
    }
    drop(archive);
    let _ = child.wait();
    found.with_context(|| format!("{} holds no {binary}", deb.display()))
}

/// The one-file layer (`usr/local/bin/docker`, root, 0755, times at SOURCE_DATE_EPOCH) in the
/// layer store; the same binary gives the same layer on every machine.
fn store_layer(builder: &Builder<'_>, binary: &Path, created_by: &str) -> Result<RecordLayer> {
    let layers = builder.cache_dir.join("layers");
    std::fs::create_dir_all(&layers)?;
    let tmp = tempfile::Builder::new().prefix(".layer-").suffix(".tar").tempfile_in(&layers)?;
    write_layer(std::io::BufWriter::new(tmp.as_file()), binary)?;
    let diff_id = layer::sha256_file(tmp.path())?;
    tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(builder.layer_path(&diff_id)).context("storing the client CLI's layer")?;
    Ok(RecordLayer { diff_id, created_by: created_by.to_string() })
}

fn write_layer(out: impl Write, binary: &Path) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(debian::SOURCE_DATE_EPOCH);
        h.set_size(size);
        h
    };
    let target = Path::new(TARGET);
    let mut dirs: Vec<&Path> = target.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()).collect();
    dirs.reverse();
    for d in dirs {
        tar.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), d, std::io::empty())?;
    }
    let file = std::fs::File::open(binary).with_context(|| format!("reading {}", binary.display()))?;
    let size = file.metadata()?.len();
    tar.append_data(&mut header(tar::EntryType::Regular, 0o755, size), target, file)?;
    tar.into_inner()?.flush()?;
    Ok(())
}

/// Loads the variant as one archive: the client's layers and the CLI's. Both engines then keep
/// the shared layers once (podman refuses an archive that leaves any layer out).
fn load(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    builder: &Builder<'_>,
    reference: &str,
    record: &Record,
) -> Result<()> {
    let image = super::debian_image(spec, builder, CLIENT_IMAGE, reference, record)?;
    let out = tempfile::Builder::new()
        .prefix(&format!(".load-{}-", std::process::id()))
        .suffix(".tar")
        .tempfile_in(&builder.cache_dir)
        .context("creating the image archive")?;
    archive::write(out.path(), std::slice::from_ref(&image), &debian::created(), debian::SOURCE_DATE_EPOCH)?;
    ui::status("Loading", format!("{reference} into {}", engine.kind));
    engine.load(sh, out.path()).with_context(|| format!("loading {reference}"))?;
    if !engine.image_exists(sh, reference)? {
        bail!("{} loaded the archive but has no {reference}", engine.kind);
    }
    Ok(())
}

/// Moves the lock's client CLIs to what their suites serve now; a candidate without content trust
/// (docker 29 or newer) is not taken, and says why.
pub fn update_pins(sh: &Shell, lock: &mut Lock, max_major: u32) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let base = sources::from_host(Path::new("/etc/apt"), &lock.debian.suite)?;
    let base_suite = lock.debian.suite.clone();
    let mut by_suite: BTreeMap<String, tempfile::TempDir> = BTreeMap::new();
    for (id, cli) in lock.client_clis.iter_mut() {
        if !by_suite.contains_key(&cli.suite) {
            let apt = super::private_apt(sh, &base, &base_suite, std::slice::from_ref(&cli.suite))?;
            by_suite.insert(cli.suite.clone(), apt);
        }
        let apt = &by_suite[&cli.suite];
        let candidate = super::apt_candidate(sh, &cli.package, Some(apt.path()))?;
        if candidate == cli.version {
            continue;
        }
        let release = release_of(&candidate);
        let major = release.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(u64::MAX);
        if let Err(e) = check_supported(&format!("{} {candidate} from {}", cli.package, cli.suite), major, max_major) {
            ui::warn(format!("client CLI {id} stays at {}: {e:#}", cli.version));
            continue;
        }
        if id_of(&release) != *id {
            ui::warn(format!(
                "client CLI {id} stays at {}: {} now serves docker {release}; add it as a client CLI of its own",
                cli.version, cli.suite
            ));
            continue;
        }
        changes.push(format!("client CLI {id}: {} {} -> {candidate}", cli.package, cli.version));
        cli.version = candidate;
    }
    Ok(changes)
}

#[cfg(test)]
mod tests;
