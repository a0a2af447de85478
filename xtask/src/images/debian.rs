//! Debian image source: every image is one shared base layer plus one layer of its own, built from
//! the exact pins in images.lock and cached as layer tars (so a second engine loads without
//! rebuilding).
//!
//! Why this shape (2 cores, .deb cache warm: the four images took 160–340 s one mmdebstrap each,
//! and now take 37–50 s, plus ~7 s to load; the set takes ~750 MB instead of ~1.1 GB per engine):
//! - One mmdebstrap per image re-installed the ~100 MB essential set four times and the images
//!   shared nothing. Now the base (the lock's variant, e.g. minbase) is built once and each image
//!   only installs its pins on top of it.
//! - Each image is built in an overlayfs over the base directory. Unpacking or copying the base
//!   into every image root (`--setup-hook='tar-in …'`) took 2–7 s per image on this disk and then
//!   needed a tree comparison; the overlay's upper directory already *is* the layer, deletions
//!   included.
//! - The pins go in with apt from a customize hook of a `custom`-variant mmdebstrap (the same apt
//!   call mmdebstrap makes for the other variants): mmdebstrap still sets up the chroot (mounts,
//!   policy-rc.d, sources, dpkg options), but `--include` with `custom` would first extract every
//!   new package by hand and then install it again with dpkg, doubling the big images' unpacking.
//! - The base's essential packages are extracted without mmdebstrap's path filter, whose Python
//!   tar re-packing took ~25 s of a ~45 s base build; the same paths are deleted right after
//!   extraction and dpkg gets the same filter for what it installs, which gives the same tree
//!   (compared file by file, metadata included).
//! - Images build in parallel (as many as there are cores, biggest first); the .deb cache is
//!   shared through hard links, so concurrent builds never write the same file, and the package
//!   lists fetched for the base are reused by the images.
//! - `--dpkgopt=force-unsafe-io` and the eatmydata hook made no difference beyond the noise here
//!   (dpkg's syncs are not the cost), and the hook downloads its own packages on every build.

mod build_dir;
mod failure;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::archive;
use super::layer;
use super::sources::{self, Source};
use super::trim;
use crate::images::lock::Lock;
use crate::ui;
use crate::util::shell_quote;
pub use build_dir::{clean_stale_builds, clear_cache};
use build_dir::{link_debs, run, Mounts};
pub use failure::explain_failure;

/// Every timestamp that ends up in a layer, config or archive.
pub const SOURCE_DATE_EPOCH: u64 = 1_700_000_000;

/// Docs, manuals and translations stay out of every image.
const DPKG_FILTER: [&str; 4] = [
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
];

pub struct Builder<'a> {
    pub lock: &'a Lock,
    pub cache_dir: PathBuf,
    pub mirrors: Vec<String>,
}

/// One image's layers as cached: `<image>-<tag>.json` (and `base-<tag>.json` for the base), naming
/// layer tars under `layers/` by their digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub layers: Vec<RecordLayer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLayer {
    pub diff_id: String,
    pub created_by: String,
}

/// What each image needs beyond its packages, as mmdebstrap customize hooks (run on the host with
/// the rootfs at "$1"), so that commands match the names in sandbox.json on both image paths.
pub fn customize_hooks(image: &str) -> Vec<String> {
    let mut hooks = Vec::new();
    match image {
        // Debian names the binary docker-registry; nixpkgs' distribution and sandbox.json say registry.
        "registry" => hooks.push(r#"ln -sf /usr/bin/docker-registry "$1"/usr/local/bin/registry"#.to_string()),
        // The datadir lives on a volume and is initialised by db-start.sh on first start; an
        // initialised copy in the image would only be copied up and then ignored.
        "db" => hooks.push(
            r#"rm -rf "$1"/var/lib/mysql/* && mkdir -p "$1"/run/mysqld && chroot "$1" chown mysql:mysql /run/mysqld"#
                .to_string(),
        ),
        _ => {}
    }
    hooks
}

/// An apt preference that lets only exactly pinned packages come from `suite`: everything
/// else (dependencies included) keeps the base suite's versions.
fn low_priority_hook(suite: &str) -> String {
    format!(
        r#"mkdir -p "$1"/etc/apt/preferences.d && printf '%s' {} > "$1"/etc/apt/preferences.d/trust-sandbox-{suite}"#,
        shell_quote(&sources::low_priority_preference(suite))
    )
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// One image to build on the base.
struct Job<'j> {
    image: &'j str,
    tag: &'j str,
}

impl Builder<'_> {
    /// Holds an exclusive lock on the cache until dropped.
    pub fn lock_cache(&self) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.cache_dir).with_context(|| format!("creating {}", self.cache_dir.display()))?;
        let f = std::fs::File::create(self.cache_dir.join(".lock")).context("opening the image cache lock")?;
        if f.try_lock().is_err() {
            ui::info("Waiting", format!("for another build using {}", self.cache_dir.display()));
            f.lock().context("locking the image cache")?;
        }
        Ok(f)
    }

    fn record_path(&self, image: &str, tag: &str) -> PathBuf {
        self.cache_dir.join(format!("{image}-{tag}.json"))
    }

    fn layers_dir(&self) -> PathBuf {
        self.cache_dir.join("layers")
    }

    pub fn layer_path(&self, diff_id: &str) -> PathBuf {
        self.layers_dir().join(format!("{}.tar", diff_id.trim_start_matches("sha256:")))
    }

    /// What the base of `suite` (the lock's own, or an image's `suite`) is made from; it is implied
    /// by every image's entry (suite, variant, recipe, the base's drop list).
    pub fn base_entry(&self, suite: &str) -> String {
        let mut s = format!(
            "trust-sandbox-base recipe={}\nsuite={suite}\nvariant={}\n",
            crate::images::lock::RECIPE_VERSION,
            self.lock.debian.variant
        );
        if !self.lock.debian.drop.is_empty() {
            s.push_str(&format!("drop={}\n", self.lock.debian.drop.join(" ")));
        }
        s
    }

    pub fn base_tag(&self, suite: &str) -> String {
        crate::util::hex(&Sha256::digest(self.base_entry(suite).as_bytes()))[..12].to_string()
    }

    /// The record of a cached image, if it and all its layers are there.
    pub fn cached(&self, image: &str, tag: &str) -> Option<Record> {
        let text = fs::read_to_string(self.record_path(image, tag)).ok()?;
        let record: Record = serde_json::from_str(&text).ok()?;
        record.layers.iter().all(|l| self.layer_path(&l.diff_id).is_file()).then_some(record)
    }

    fn store_record(&self, image: &str, tag: &str, record: &Record) -> Result<()> {
        crate::util::write_mode(&self.record_path(image, tag), &serde_json::to_vec_pretty(record)?, 0o644)
    }

    /// The apt sources of `suite`: the host's (or `--mirror`'s) for the lock's base suite; for an
    /// image on a base of its own (the consumer's trixie), the same archives with that suite.
    fn sources(&self, suite: &str) -> Result<Vec<Source>> {
        let base = &self.lock.debian.suite;
        if !self.mirrors.is_empty() {
            return Ok(self.mirrors.iter().map(|m| sources::from_mirror(m, suite)).collect());
        }
        let host = sources::from_host(Path::new("/etc/apt"), base)?;
        Ok(if suite == base { host } else { sources::renamed(&host, base, suite) })
    }

    /// mmdebstrap arguments for the base, into `target` (a directory whose apt cache and lists
    /// are bind mounts made by the caller).
    pub fn base_argv(&self, suite: &str, target: &Path, sources_file: &Path, merged_usr: &Path) -> Vec<String> {
        let base_drop: Vec<String> = self.lock.debian.drop.iter().map(|g| format!("path-exclude={g}")).collect();
        let filter: Vec<String> =
            DPKG_FILTER.iter().map(|f| f.to_string()).chain(base_drop).map(|f| shell_quote(&f)).collect();
        vec![
            format!("--variant={}", self.lock.debian.variant),
            "--format=directory".into(),
            format!("--hook-dir={}", merged_usr.display()),
            "--skip=check/empty".into(),
            "--aptopt=Acquire::Languages \"none\"".into(),
            // After the unfiltered extraction and before dpkg installs anything: dpkg then honours
            // the filter, and the extracted files it would not have installed are removed.
            format!("--extract-hook=printf '%s\\n' {} > \"$1\"/etc/dpkg/dpkg.cfg.d/99mmdebstrap", filter.join(" ")),
            r#"--extract-hook=cd "$1" && find usr/share/man usr/share/locale -mindepth 1 -delete && find usr/share/doc -mindepth 1 ! -type d ! -path 'usr/share/doc/*/copyright' -delete && find usr/share/doc -mindepth 1 -type d -empty -delete"#.into(),
            format!("--extract-hook={}", trim::delete_extracted(&self.lock.debian.drop)),
            // The apt cache is the shared .deb cache's hard links: keep what was downloaded.
            "--skip=essential/unlink".into(),
            // Lists and archives are bind mounts, gone when unmounted; apt's clean-up would empty them.
            "--skip=cleanup/apt".into(),
            r#"--customize-hook=rm -f "$1"/var/cache/apt/*.bin"#.into(),
            format!("--customize-hook={}", trim::DROP_BACKUPS),
            suite.to_string(),
            target.display().to_string(),
            sources_file.display().to_string(),
        ]
    }

    /// mmdebstrap arguments for one image into `target`, an overlay over the base.
    pub fn image_argv(
        &self,
        image: &str,
        target: &Path,
        sources_file: &Path,
        lists_ready: bool,
    ) -> Result<Vec<String>> {
        let pins = self.lock.apt_pins(image)?;
        let quoted: Vec<String> = pins.iter().map(|p| shell_quote(p)).collect();
        let mut a: Vec<String> = vec![
            "--variant=custom".into(),
            "--format=directory".into(),
            "--skip=check/empty".into(),
            "--aptopt=Acquire::Languages \"none\"".into(),
        ];
        a.extend(DPKG_FILTER.iter().map(|f| format!("--dpkgopt={f}")));
        if let Some(hook) = trim::filter_hook(&self.lock.path_filters(image, trim::host_arch())?) {
            a.push(format!("--setup-hook={hook}"));
        }
        // The target already holds the base's sources, which mmdebstrap leaves as they are: an
        // extra suite goes in beside them before apt updates, with the preference that keeps it
        // to the exactly pinned packages.
        let extra = &self.lock.image(image)?.extra_suites;
        let base = self.lock.suite_of(image)?;
        for suite in extra {
            let stanzas = sources::for_extra_suite(&self.sources(base)?, base, suite);
            if stanzas.is_empty() {
                bail!("no apt source serves Debian `{base}` to derive `{suite}` from: pass --mirror URL");
            }
            a.push(format!(
                "--setup-hook=printf '%s' {} > \"$1\"/etc/apt/sources.list.d/trust-sandbox-{suite}.sources",
                shell_quote(&sources::render_deb822(&stanzas))
            ));
            a.push(format!("--setup-hook={}", low_priority_hook(suite)));
        }
        if lists_ready && extra.is_empty() {
            a.push("--skip=update".into());
        }
        a.push("--skip=cleanup/apt".into());
        // mmdebstrap would empty /run after the hooks, taking the db's /run/mysqld with it; the
        // same clean-up runs below, before the image hooks.
        a.push("--skip=cleanup/run".into());
        a.push(format!(
            "--customize-hook=echo 'I: installing {} with apt...' >&2 && APT_CONFIG=\"$MMDEBSTRAP_APT_CONFIG\" apt-get -o Dir::Bin::dpkg=env -o DPkg::Options::=--unset=TMPDIR -o DPkg::Options::=dpkg -o DPkg::Chroot-Directory=\"$1\" --yes install {}",
            pins.join(" "),
            quoted.join(" ")
        ));
        a.push(r#"--customize-hook=find "$1"/run -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +"#.into());
        for hook in customize_hooks(image) {
            a.push(format!("--customize-hook={hook}"));
        }
        a.push(format!("--customize-hook={}", trim::DROP_BACKUPS));
        a.push(format!(
            "--customize-hook=rm -f \"$1\"/var/cache/apt/*.bin && echo {} > \"$1\"/etc/trust-sandbox-image",
            shell_quote(self.lock.canonical_entry(image)?.replace('\n', " ").trim())
        ));
        a.push(base.to_string());
        a.push(target.display().to_string());
        a.push(sources_file.display().to_string());
        Ok(a)
    }

    fn mmdebstrap(&self, label: &str, argv: &[String]) -> Result<()> {
        let mut child = Command::new("mmdebstrap")
            .args(argv)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting mmdebstrap")?;
        let mut log = Vec::new();
        for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
            let line = line.unwrap_or_default();
            if let Some(stage) = line.strip_prefix("I: ") {
                // Hook lines repeat whole shell commands (the install hook announces itself), and
                // the recipe's own skips are no news.
                let noise = ["running --", "running special hook", "skipping ", "nothing to ", "no essential packages"];
                if !noise.iter().any(|n| stage.starts_with(n)) {
                    ui::info(label, stage);
                }
            }
            log.push(line);
        }
        let status = child.wait().context("waiting for mmdebstrap")?;
        if !status.success() {
            std::fs::write(self.cache_dir.join(format!("{label}-build.log")), log.join("\n")).ok();
            return Err(explain_failure(label, &log));
        }
        Ok(())
    }

    /// Writes `upper` (over `lower`) into the layer store; returns its digest and size.
    fn store_layer(&self, upper: &Path, lower: Option<&Path>) -> Result<(String, u64, layer::Summary)> {
        let dir = self.layers_dir();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = tempfile::Builder::new().prefix(".layer-").suffix(".tar").tempfile_in(&dir)?;
        let summary = layer::write(upper, lower, BufWriter::with_capacity(1 << 20, tmp.as_file()), SOURCE_DATE_EPOCH)?;
        let diff_id = layer::sha256_file(tmp.path())?;
        let size = tmp.as_file().metadata()?.len();
        // Readable like the rest of the cache (a temp file starts at 0600).
        fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        tmp.persist(self.layer_path(&diff_id)).context("storing a layer")?;
        Ok((diff_id, size, summary))
    }

    /// Makes every listed image's layers present in the cache (building the base and the images
    /// that are missing, or all of them with `rebuild`); returns image → record.
    pub fn prepare(&self, images: &[(&str, &str)], rebuild: bool) -> Result<BTreeMap<String, Record>> {
        let mut out = BTreeMap::new();
        let mut jobs = Vec::new();
        for &(image, tag) in images {
            match self.cached(image, tag).filter(|_| !rebuild) {
                Some(r) => {
                    out.insert(image.to_string(), r);
                }
                None => jobs.push(Job { image, tag }),
            }
        }
        if !jobs.is_empty() {
            out.extend(self.build_jobs(jobs, rebuild)?);
            self.collect_garbage();
        }
        Ok(out)
    }

    /// Builds the jobs base by base: most images sit on the lock's suite, an image with a `suite`
    /// of its own on that suite's base (built the same way, cached under its own tag).
    fn build_jobs(&self, jobs: Vec<Job<'_>>, rebuild_base: bool) -> Result<BTreeMap<String, Record>> {
        let mut groups: BTreeMap<&str, Vec<Job<'_>>> = BTreeMap::new();
        for job in jobs {
            groups.entry(self.lock.suite_of(job.image)?).or_default().push(job);
        }
        let mut out = BTreeMap::new();
        for (suite, jobs) in groups {
            out.extend(self.build_on_base(suite, jobs, rebuild_base)?);
        }
        Ok(out)
    }

    fn build_on_base(
        &self,
        suite: &str,
        mut jobs: Vec<Job<'_>>,
        rebuild_base: bool,
    ) -> Result<BTreeMap<String, Record>> {
        if which::which("mmdebstrap").is_err() {
            bail!("mmdebstrap is not installed; run `cargo xtask sandbox setup --yes` (Debian: apt-get install mmdebstrap)");
        }
        if !crate::host::is_root() {
            bail!("building the Debian images needs root (mmdebstrap's root mode and overlay mounts): run with `sudo -E`, or use `--images nix`");
        }
        fs::create_dir_all(&self.cache_dir).with_context(|| format!("creating {}", self.cache_dir.display()))?;
        clean_stale_builds(&self.cache_dir);
        let work = tempfile::Builder::new()
            .prefix(&format!(".build-{}-", std::process::id()))
            .tempdir_in(&self.cache_dir)
            .context("creating a build directory")?;
        let sources_file = work.path().join("sources.sources");
        fs::write(&sources_file, sources::render_deb822(&self.sources(suite)?)).context("writing apt sources")?;
        let debs = self.cache_dir.join("debs");
        let base_dir = work.path().join("base");
        let lists = work.path().join("lists");
        let base_tag = self.base_tag(suite);

        let started = Instant::now();
        let base_record = if rebuild_base { None } else { self.cached("base", &base_tag) };
        let lists_ready = base_record.is_none();
        if let Some(record) = &base_record {
            let layer = self.layer_path(&record.layers[0].diff_id);
            ui::status("Unpacking", format!("the base layer {}", layer.display()));
            fs::create_dir_all(&base_dir)?;
            run(Command::new("tar")
                .args(["--extract", "--numeric-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"])
                .arg("--directory")
                .arg(&base_dir)
                .arg("--file")
                .arg(&layer))
            .context("unpacking the cached base layer")?;
        } else {
            ui::status("Building", format!("the base ({suite} {}) with mmdebstrap", self.lock.debian.variant));
            let archives = work.path().join("base-archives");
            link_debs(&debs, &archives)?;
            fs::create_dir_all(archives.join("partial"))?;
            fs::create_dir_all(lists.join("partial"))?;
            let mut mounts = Mounts::default();
            mounts.bind(&archives, &base_dir.join("var/cache/apt/archives"))?;
            mounts.bind(&lists, &base_dir.join("var/lib/apt/lists"))?;
            let built =
                self.mmdebstrap("base", &self.base_argv(suite, &base_dir, &sources_file, &trim::merged_usr_hooks()?));
            link_debs(&archives, &debs)?;
            built?;
            mounts.release()?;
            // Engines mount their own /dev, and device nodes in the lower directory would stop
            // mmdebstrap from making its own in each image's overlay.
            for e in fs::read_dir(base_dir.join("dev"))?.flatten() {
                let p = e.path();
                if e.file_type()?.is_dir() {
                    fs::remove_dir_all(&p)?
                } else {
                    fs::remove_file(&p)?
                }
            }
            ui::status("Built", format!("the base in {:.1} s", started.elapsed().as_secs_f64()));
            crate::timing::record("base", started.elapsed().as_secs_f64());
        }

        // Biggest first so that the last one to finish is a small one; the pin count is a fair
        // stand-in for the size of what an image installs.
        jobs.sort_by_key(|j| {
            (std::cmp::Reverse(self.lock.image(j.image).map(|i| i.packages.len()).unwrap_or(0)), j.image.to_string())
        });
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(jobs.len()).max(1);
        ui::status(
            "Building",
            format!(
                "image{} {} on the base ({workers} at a time)",
                if jobs.len() == 1 { "" } else { "s" },
                jobs.iter().map(|j| j.image).collect::<Vec<_>>().join(", ")
            ),
        );
        jobs.reverse();
        let queue = Mutex::new(jobs);
        let failed = Mutex::new(Vec::<anyhow::Error>::new());
        let built = Mutex::new(Vec::<(String, String, RecordLayer)>::new());
        let base_layer = std::thread::scope(|s| -> Result<RecordLayer> {
            // The base layer is written while the images build on the same (read-only) tree.
            let base_writer = s.spawn(|| -> Result<RecordLayer> {
                if let Some(r) = &base_record {
                    return Ok(r.layers[0].clone());
                }
                let (diff_id, size, _) = self.store_layer(&base_dir, None)?;
                ui::status("Stored", format!("the base layer ({})", mb(size)));
                let created_by = format!(
                    "mmdebstrap --variant={} {suite} (trust-sandbox base {base_tag})",
                    self.lock.debian.variant
                );
                let l = RecordLayer { diff_id, created_by };
                self.store_record("base", &base_tag, &Record { layers: vec![l.clone()] })?;
                Ok(l)
            });
            for _ in 0..workers {
                s.spawn(|| loop {
                    if !failed.lock().expect("not poisoned").is_empty() {
                        break;
                    }
                    let Some(job) = queue.lock().expect("not poisoned").pop() else { break };
                    match self.build_image(&job, work.path(), &base_dir, &sources_file, lists_ready.then_some(&lists)) {
                        Ok(l) => built.lock().expect("not poisoned").push((job.image.into(), job.tag.into(), l)),
                        Err(e) => failed.lock().expect("not poisoned").push(e),
                    }
                });
            }
            base_writer.join().expect("the base layer writer does not panic")
        });
        let base_layer = base_layer?;
        // The images that did build are kept even when another one failed.
        let mut out = BTreeMap::new();
        for (image, tag, own) in built.into_inner().expect("not poisoned") {
            let record = Record { layers: vec![base_layer.clone(), own] };
            self.store_record(&image, &tag, &record)?;
            out.insert(image, record);
        }
        if let Some(e) = failed.into_inner().expect("not poisoned").into_iter().next() {
            return Err(e);
        }
        ui::status("Built", format!("{} image(s) in {:.1} s", out.len(), started.elapsed().as_secs_f64()));
        crate::timing::record(format!("all images ({workers} at a time)"), started.elapsed().as_secs_f64());
        Ok(out)
    }

    /// One image on the base: overlay, mmdebstrap, then the overlay's upper directory as a layer.
    fn build_image(
        &self,
        job: &Job<'_>,
        work: &Path,
        base_dir: &Path,
        sources_file: &Path,
        lists: Option<&PathBuf>,
    ) -> Result<RecordLayer> {
        let image = job.image;
        let started = Instant::now();
        let dir = work.join(image);
        let (upper, ovl_work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &ovl_work, &merged] {
            fs::create_dir_all(d)?;
        }
        // An image with extra suites updates its own lists: the shared ones lack those suites.
        let lists = lists.filter(|_| self.lock.image(image).is_ok_and(|i| i.extra_suites.is_empty()));
        let archives = dir.join("archives");
        let debs = self.cache_dir.join("debs");
        link_debs(&debs, &archives)?;
        fs::create_dir_all(archives.join("partial"))?;
        let own_lists = dir.join("lists");
        fs::create_dir_all(own_lists.join("partial"))?;
        if let Some(shared) = lists {
            // apt only reads the lists when it does not update them: links are enough.
            for e in fs::read_dir(shared)?.flatten() {
                if e.file_type()?.is_file() && e.file_name() != "lock" {
                    fs::hard_link(e.path(), own_lists.join(e.file_name()))?;
                }
            }
        }
        let mut mounts = Mounts::default();
        mounts.overlay(base_dir, &upper, &ovl_work, &merged)?;
        // The apt cache and lists are bind mounts, so neither the .debs nor the lists ever reach
        // the upper directory, and new downloads land next to the shared cache for linking back.
        mounts.bind(&archives, &merged.join("var/cache/apt/archives"))?;
        mounts.bind(&own_lists, &merged.join("var/lib/apt/lists"))?;
        let argv = self.image_argv(image, &merged, sources_file, lists.is_some())?;
        let built = self.mmdebstrap(image, &argv);
        // Whatever was downloaded is good, even when the build failed.
        link_debs(&archives, &debs)?;
        built?;
        mounts.release_to(1)?;
        mounts.release()?;
        let (diff_id, size, summary) = self.store_layer(&upper, Some(base_dir))?;
        let _ = fs::remove_dir_all(&dir);
        crate::timing::record(format!("image {image}"), started.elapsed().as_secs_f64());
        ui::status(
            "Built",
            format!(
                "image {image} in {:.1} s (layer {}, {} entries, {} whiteouts)",
                started.elapsed().as_secs_f64(),
                mb(size),
                summary.entries,
                summary.whiteouts
            ),
        );
        let pins = self.lock.apt_pins(image)?.join(" ");
        Ok(RecordLayer {
            diff_id,
            created_by: format!("apt-get install {pins} (trust-sandbox image {image}:{})", job.tag),
        })
    }

    /// Drops layer tars no record names any more (a rebuild leaves the old ones behind).
    fn collect_garbage(&self) {
        let mut keep = BTreeSet::new();
        for e in fs::read_dir(&self.cache_dir).into_iter().flatten().flatten() {
            if e.path().extension() == Some(OsStr::new("json")) {
                if let Some(r) = fs::read_to_string(e.path()).ok().and_then(|t| serde_json::from_str::<Record>(&t).ok())
                {
                    keep.extend(r.layers.into_iter().map(|l| self.layer_path(&l.diff_id)));
                }
            }
        }
        for e in fs::read_dir(self.layers_dir()).into_iter().flatten().flatten() {
            if !keep.contains(&e.path()) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// The archive entries for one image from its record.
    pub fn archive_image(&self, reference: &str, record: &Record, cmd: &[String], env: &[String]) -> archive::Image {
        archive::Image {
            reference: reference.to_string(),
            cmd: cmd.to_vec(),
            env: env.to_vec(),
            layers: record
                .layers
                .iter()
                .map(|l| archive::Layer {
                    diff_id: l.diff_id.clone(),
                    path: self.layer_path(&l.diff_id),
                    created_by: l.created_by.clone(),
                })
                .collect(),
        }
    }
}

/// The `created` time of every image: SOURCE_DATE_EPOCH.
pub fn created() -> String {
    time::OffsetDateTime::from_unix_timestamp(SOURCE_DATE_EPOCH as i64)
        .expect("valid epoch")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formattable")
}

#[cfg(test)]
mod tests;
