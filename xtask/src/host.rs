//! The machine: what the engines and image builds need on this host, installed and configured
//! on Debian/Ubuntu with consent (`setup`, `cargo xtask test`), or checked (`doctor`).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::engine::{Engine, EngineKind};
use crate::ui;

/// containers.conf drop-in: runc (crun cannot run on hybrid-cgroup hosts like ours) and explicit
/// ulimits (raising RLIMIT_NOFILE is refused there). A sysadmin's setting, not per-run flags.
pub const PODMAN_DROPIN: &str = "/etc/containers/containers.conf.d/50-trust-sandbox.conf";
pub const PODMAN_CONF: &str = "# Written by `cargo xtask sandbox setup`: runc works on hybrid cgroup hosts where crun does not,\n# and an explicit nofile/nproc avoids raising limits the host refuses to raise.\n[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\n[engine]\nruntime = \"runc\"\n";
pub const DOCKERD_LOG: &str = "/var/log/trust-sandbox-dockerd.log";
pub const DOCKERD_ARGS: [&str; 2] = ["--default-ulimit", "nofile=1024:1024"];

pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub fix: String,
}

/// What an engine needs on this host, beyond its CLI: a docker client alone (some images ship
/// one in /usr/local/bin) cannot run anything without a dockerd to talk to.
fn engine_programs(kind: EngineKind) -> &'static [&'static str] {
    match kind {
        EngineKind::Docker => &["docker", "dockerd"],
        EngineKind::Podman => &["podman", "runc"],
    }
}

fn engine_installed(kind: EngineKind) -> bool {
    engine_programs(kind).iter().all(|b| has(b))
}

/// The engine `setup` installs when none is named: podman if only podman is there, else docker
/// (what `Engine::detect` prefers once its daemon answers).
pub fn default_engine() -> EngineKind {
    default_engine_with(engine_installed)
}

fn default_engine_with(installed: impl Fn(EngineKind) -> bool) -> EngineKind {
    if installed(EngineKind::Podman) && !installed(EngineKind::Docker) {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    }
}

/// The Debian packages `setup` installs for `engines`, given which programs `has`.
fn missing_packages(engines: &[EngineKind], has: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !has("mmdebstrap") {
        missing.push("mmdebstrap");
    }
    for &k in engines {
        if !engine_programs(k).iter().all(|b| has(b)) {
            missing.extend(packages_for(k));
        }
    }
    missing
}

fn has(bin: &str) -> bool {
    which::which(bin).is_ok()
}

pub fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists() && has("apt-get")
}

fn packages_for(kind: EngineKind) -> &'static [&'static str] {
    match kind {
        EngineKind::Docker => &["docker.io"],
        EngineKind::Podman => &["podman", "runc", "netavark", "aardvark-dns", "uidmap", "slirp4netns", "iproute2"],
    }
}

pub fn checks(sh: &Shell, engines: &[EngineKind]) -> Vec<Check> {
    let mut out = vec![Check {
        what: "mmdebstrap (builds the Debian images)",
        ok: has("mmdebstrap"),
        fix: "apt-get install mmdebstrap".into(),
    }];
    for &kind in engines {
        let installed = engine_installed(kind);
        out.push(Check {
            what: match kind {
                EngineKind::Docker => "docker installed",
                EngineKind::Podman => "podman installed",
            },
            ok: installed,
            fix: format!("apt-get install {}", packages_for(kind).join(" ")),
        });
        if installed {
            let answers =
                Engine::find(kind).map(|e| e.raw(sh, &["info"]).map(|o| o.ok()).unwrap_or(false)).unwrap_or(false);
            out.push(Check {
                what: match kind {
                    EngineKind::Docker => "docker daemon answers",
                    EngineKind::Podman => "podman answers",
                },
                ok: answers,
                fix: match kind {
                    EngineKind::Docker => format!(
                        "start it: `systemctl start docker`, or without systemd: `dockerd {} >{DOCKERD_LOG} 2>&1 &`",
                        DOCKERD_ARGS.join(" ")
                    ),
                    EngineKind::Podman => format!(
                        "write {PODMAN_DROPIN} (`cargo xtask sandbox setup --engine podman --yes` does) and check `podman info`"
                    ),
                },
            });
        }
        if kind == EngineKind::Podman {
            out.push(Check {
                what: "podman configured for this host (runc, ulimits)",
                ok: std::fs::read_to_string(PODMAN_DROPIN).is_ok_and(|s| s == PODMAN_CONF),
                fix: format!("write {PODMAN_DROPIN}:\n{PODMAN_CONF}"),
            });
        }
    }
    out
}

/// Are we root? (Image builds and /etc edits need it; apt then runs without sudo.)
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// Consent to changing the machine: `--yes`, or CI=true (or 1) in the environment.
pub fn consent(yes: bool) -> bool {
    consent_from(yes, std::env::var("CI").ok().as_deref())
}

fn consent_from(yes: bool, ci: Option<&str>) -> bool {
    yes || matches!(ci, Some("true" | "1"))
}

/// Installs and configures what `engines` need, starting dockerd when nothing manages it.
pub fn setup(sh: &Shell, engines: &[EngineKind], yes: bool) -> Result<()> {
    setup_alongside(sh, engines, yes, || Ok(()))
}

/// [`setup`], with `alongside` (the image build) running in a thread of its own from the moment
/// mmdebstrap is installed: the engine's packages, the bigger part of a fresh machine's apt, then
/// install while the images build (on a fresh machine the two took 13.7 s and 38.8 s one after
/// the other). Both must succeed; an error of either is returned.
pub fn setup_alongside(
    sh: &Shell,
    engines: &[EngineKind],
    yes: bool,
    alongside: impl FnOnce() -> Result<()> + Send,
) -> Result<()> {
    let packages = missing_packages(engines, has);
    // Refused before anything starts, so that a build never runs for an install that cannot.
    if !packages.is_empty() && !consent(yes) {
        return apt_install(sh, &packages, yes);
    }
    let (builder_tools, engine_packages) = builder_first(&packages);
    if !builder_tools.is_empty() {
        crate::timing::timed("apt mmdebstrap", || apt_install(sh, &builder_tools, yes))?;
    }
    std::thread::scope(|scope| {
        let images = scope.spawn(alongside);
        let engines_ready = install_and_start(sh, engines, &engine_packages, !builder_tools.is_empty(), yes);
        let built = images.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the image build panicked")));
        engines_ready.and(built)
    })?;
    for &k in engines {
        let e = Engine::detect(sh, Some(k))?;
        ui::status("Ready", format!("{k} {}", e.server_version(sh).unwrap_or_default()));
    }
    Ok(())
}

/// What the image builds need from the host, installed before anything else.
const BUILDER_PACKAGES: [&str; 1] = ["mmdebstrap"];

/// `packages` split into what the image build needs (installed first) and the rest.
fn builder_first<'p>(packages: &[&'p str]) -> (Vec<&'p str>, Vec<&'p str>) {
    packages.iter().partition(|p| BUILDER_PACKAGES.contains(p))
}

fn install_and_start(sh: &Shell, engines: &[EngineKind], packages: &[&str], updated: bool, yes: bool) -> Result<()> {
    if !packages.is_empty() {
        let install = || if updated { apt_get_install(sh, packages) } else { apt_install(sh, packages, yes) };
        crate::timing::timed("apt", install)?;
    }
    for &k in engines {
        match k {
            EngineKind::Podman => {
                configure_podman()?;
                renumber_podman_locks(sh, yes)?;
            }
            EngineKind::Docker => crate::timing::timed("dockerd", || start_dockerd(sh))?,
        }
    }
    Ok(())
}

/// Installs Debian packages with consent (--yes or CI=true); a no-op for an empty list.
pub fn apt_install(sh: &Shell, packages: &[&str], yes: bool) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    if !is_debian() {
        bail!(
            "missing: {}. This is not a Debian/Ubuntu host: install them with your package manager (see `cargo xtask sandbox doctor`)",
            packages.join(" ")
        );
    }
    if !consent(yes) {
        bail!("this would install: {}. Re-run with --yes to consent (CI=true implies it)", packages.join(" "));
    }
    let (runner, pre) = apt_runner();
    cmd!(sh, "{runner} {pre...} apt-get update -qq").run().context("apt-get update")?;
    apt_get_install(sh, packages)
}

/// `apt-get install` alone, after an [`apt_install`] in the same run has updated the lists and
/// had consent.
fn apt_get_install(sh: &Shell, packages: &[&str]) -> Result<()> {
    ui::status("Installing", packages.join(" "));
    let (runner, pre) = apt_runner();
    cmd!(
        sh,
        "{runner} {pre...} DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {packages...}"
    )
    .run()
    .context("apt-get install")?;
    Ok(())
}

/// Without root, sudo asks; `env` carries the frontend setting through it.
fn apt_runner() -> (&'static str, &'static [&'static str]) {
    if is_root() {
        ("env", &[])
    } else {
        ("sudo", &["env"])
    }
}

fn configure_podman() -> Result<()> {
    if std::fs::read_to_string(PODMAN_DROPIN).is_ok_and(|s| s == PODMAN_CONF) {
        return Ok(());
    }
    if !is_root() {
        bail!("configuring podman needs root: write {PODMAN_DROPIN} with:\n{PODMAN_CONF}");
    }
    std::fs::create_dir_all(Path::new(PODMAN_DROPIN).parent().expect("has parent"))?;
    std::fs::write(PODMAN_DROPIN, PODMAN_CONF).with_context(|| format!("writing {PODMAN_DROPIN}"))?;
    ui::status("Configured", format!("podman: {PODMAN_DROPIN} (runtime runc, ulimits)"));
    Ok(())
}

/// Where `setup` records the boot in which it last renumbered podman's locks.
fn renumber_record() -> std::path::PathBuf {
    crate::util::cache_dir().join("podman-renumbered-boot")
}

/// After a restart that podman could not see (its tmp dir is not on a tmpfs), renumbers its
/// locks once per boot, with consent, while no podman container runs (see engine::podman_locks).
fn renumber_podman_locks(sh: &Shell, yes: bool) -> Result<()> {
    use crate::engine::podman_locks::{self, Renumber};
    let engine = Engine::find(EngineKind::Podman)?;
    if !consent(yes) {
        let unseen = podman_locks::not_on_tmpfs(&podman_locks::reboot_markers(sh, &engine)?)?;
        if !unseen.is_empty() {
            ui::warn(format!(
                "{} not on a tmpfs: after a restart of this machine run `podman system renumber` while no podman container runs (or `setup --yes`)",
                describe_paths(&unseen)
            ));
        }
        return Ok(());
    }
    match podman_locks::renumber_after_reboot(sh, &engine, &renumber_record())? {
        Renumber::Done => ui::status(
            "Renumbered",
            "podman's locks: its tmp dir is not on a tmpfs, so it cannot tell that this machine restarted",
        ),
        Renumber::Skipped { running } => ui::warn(format!(
            "podman's tmp dir is not on a tmpfs and its locks were not renumbered since this machine started: {running} podman container(s) are running. If podman reports a `lock mismatch`, stop them and run `podman system renumber`"
        )),
        Renumber::NotNeeded | Renumber::DoneThisBoot => {}
    }
    Ok(())
}

fn describe_paths(paths: &[std::path::PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!("podman's tmp dir and run root ({}) are", names.join(", "))
}

/// Advice that does not make the host unusable: printed by `doctor` as warnings.
pub fn advisories(sh: &Shell) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(engine) = Engine::find(EngineKind::Podman) else { return out };
    let unseen = crate::engine::podman_locks::reboot_markers(sh, &engine)
        .and_then(|m| crate::engine::podman_locks::not_on_tmpfs(&m));
    match unseen {
        Ok(paths) if !paths.is_empty() => out.push(format!(
            "{} not on a tmpfs, so podman cannot tell when this machine restarted; afterwards it may fail with `… share lock ID …: deadlock due to lock mismatch`. Fix: after each restart, with no podman container running, `podman system renumber` (`cargo xtask sandbox setup --yes` does it)",
            describe_paths(&paths)
        )),
        Ok(_) => {}
        Err(e) => out.push(format!("could not tell where podman keeps its tmp dir: {e:#}")),
    }
    out
}

fn start_dockerd(sh: &Shell) -> Result<()> {
    let engine = Engine::find(EngineKind::Docker)?;
    if engine.raw(sh, &["info"])?.ok() {
        return Ok(());
    }
    if has("systemctl")
        && cmd!(sh, "systemctl is-system-running").quiet().ignore_status().read().is_ok_and(|s| !s.contains("offline"))
    {
        cmd!(sh, "systemctl start docker").run().context("systemctl start docker")?;
    } else {
        if !is_root() {
            bail!(
                "dockerd is not running and there is no systemd: start it as root: dockerd {} &",
                DOCKERD_ARGS.join(" ")
            );
        }
        ui::status("Starting", format!("dockerd {} (log: {DOCKERD_LOG})", DOCKERD_ARGS.join(" ")));
        let log = std::fs::File::create(DOCKERD_LOG).context("creating the dockerd log")?;
        let err = log.try_clone()?;
        std::process::Command::new("dockerd")
            .args(DOCKERD_ARGS)
            .stdout(log)
            .stderr(err)
            .stdin(std::process::Stdio::null())
            .spawn()
            .context("starting dockerd")?;
    }
    crate::util::poll("dockerd", Duration::from_secs(30), || {
        let out = engine.raw(sh, &["info"])?;
        if !out.ok() {
            bail!("{}", out.combined().lines().last().unwrap_or_default());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_dropin_sets_runc_and_both_ulimits() {
        let v: toml::Value = toml::from_str(PODMAN_CONF).unwrap();
        assert_eq!(v["engine"]["runtime"].as_str(), Some("runc"));
        let limits: Vec<&str> =
            v["containers"]["default_ulimits"].as_array().unwrap().iter().filter_map(|x| x.as_str()).collect();
        assert!(limits.iter().any(|l| l.starts_with("nofile=")) && limits.iter().any(|l| l.starts_with("nproc=")));
    }

    #[test]
    fn consent_comes_from_flag_or_ci() {
        assert!(consent_from(true, None));
        assert!(consent_from(false, Some("true")));
        assert!(consent_from(false, Some("1")));
        assert!(!consent_from(false, None));
        assert!(!consent_from(false, Some("false")));
        assert!(!consent_from(false, Some("")));
    }

    #[test]
    fn a_docker_client_alone_is_not_an_installed_engine() {
        let only = |present: &'static [&'static str]| move |bin: &str| present.contains(&bin);
        let docker = [EngineKind::Docker];
        assert_eq!(missing_packages(&docker, only(&["mmdebstrap", "docker"])), ["docker.io"]);
        assert!(missing_packages(&docker, only(&["mmdebstrap", "docker", "dockerd"])).is_empty());
        assert_eq!(missing_packages(&docker, only(&["docker", "dockerd"])), ["mmdebstrap"]);
    }

    #[test]
    fn the_image_builder_is_installed_before_the_engines() {
        let plan = missing_packages(&[EngineKind::Docker], |_| false);
        assert_eq!(builder_first(&plan), (vec!["mmdebstrap"], vec!["docker.io"]));
        let has_builder = missing_packages(&[EngineKind::Podman], |b| b == "mmdebstrap");
        let (first, rest) = builder_first(&has_builder);
        assert!(first.is_empty());
        assert_eq!(rest.first(), Some(&"podman"));
    }

    #[test]
    fn setup_picks_the_engine_that_is_there_else_docker() {
        assert_eq!(default_engine_with(|_| false), EngineKind::Docker);
        assert_eq!(default_engine_with(|k| k == EngineKind::Podman), EngineKind::Podman);
        assert_eq!(default_engine_with(|_| true), EngineKind::Docker);
        assert_eq!(default_engine_with(|k| k == EngineKind::Docker), EngineKind::Docker);
    }

    #[test]
    fn podman_without_runc_gets_the_whole_podman_set() {
        let has = |bin: &str| ["mmdebstrap", "podman", "docker", "dockerd"].contains(&bin);
        let plan = missing_packages(&[EngineKind::Docker, EngineKind::Podman], has);
        assert_eq!(plan, ["podman", "runc", "netavark", "aardvark-dns", "uidmap", "slirp4netns", "iproute2"]);
    }
}
