//! The on-demand `consumer` container: the enforcement point after the move. Debian trixie's
//! skopeo 1.18 and podman 5.4 (containers/image 5.34) pull through the consumer kit's
//! containers policy, as a podman or CRI-O host would with the kit installed in /etc/containers.
//!
//! Started like the signers (sandbox network, sandbox labels, removed by `down`/`destroy`), with
//! the kit directory mounted read-only at /kit and /etc/containers pointing into it. The image
//! ships Debian's own policy.json, which accepts anything; it is replaced before the first pull.
//! podman runs as root on vfs storage with cgroupfs. Measured: on docker it needs SYS_ADMIN and
//! no seccomp filter (without them: `cannot clone: Operation not permitted`, `cannot re-exec
//! process`), the same as the client's own dockerd; on podman it pulls without them. A pull is
//! all it does here: `podman run` inside fails on docker (`crun: ioctl(SIOCSIFFLAGS): Operation not
//! permitted` without --net=host) and on podman 4.3 (`crun: mknod /dev/null`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::kit;
use crate::engine::Output;
use crate::engine::{EnvVar, Mount, RunSpec};
use crate::sandbox::Sandbox;
use crate::step::{self, mask::Masker, Step};
use crate::ui;

pub const IMAGE: &str = "consumer";
/// The name of the consumer on the host's network.
const HOST_NAME: &str = "consumer-host";
/// Where the kit is mounted.
pub const KIT_MOUNT: &str = "/kit";

/// Points /etc/containers at the kit and sets podman up for a container (vfs, cgroupfs, events
/// to a file).
fn setup_script() -> String {
    format!(
        r#"set -e
mkdir -p /etc/containers/registries.conf.d
ln -sfn {k}/{policy} /etc/containers/policy.json
rm -rf /etc/containers/registries.d && ln -sfn {k}/{regd} /etc/containers/registries.d
ln -sfn {k}/{conf} /etc/containers/registries.conf.d/
printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' > /etc/containers/storage.conf
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > /etc/containers/containers.conf"#,
        k = KIT_MOUNT,
        policy = kit::POLICY,
        regd = kit::REGISTRIES_D,
        conf = kit::REGISTRIES_CONF,
    )
}

/// `skopeo copy` of "$1" into a directory, then the digest of the manifest it fetched.
pub const SKOPEO_PULL: &str = r#"rm -rf /tmp/pull
skopeo copy "docker://$1" dir:/tmp/pull || exit $?
echo "digest=sha256:$(sha256sum /tmp/pull/manifest.json | cut -d' ' -f1)""#;

/// `podman pull` of "$1" into empty storage, then the digest of the image it pulled.
pub const PODMAN_PULL: &str = r#"podman rmi -a -f >/dev/null 2>&1
podman pull "$1" || exit $?
echo "digest=$(podman image inspect --format '{{.Digest}}' "$1")""#;

/// Makes the consumer image present (built from images.lock on first use, like the signers);
/// returns its reference. Called before anything is started, so a missing image starts nothing.
pub fn image(sh: &Shell, sb: &Sandbox, choice: &super::signers::ImageChoice) -> Result<String> {
    let opts = crate::images::Options { mirrors: choice.mirrors.clone(), rebuild: false };
    let refs = crate::images::ensure_only(sh, &sb.engine, &sb.spec, choice.source, &opts, &[IMAGE]).context(
        "preparing the consumer image (skopeo and podman; built on first use like the signers image, or ahead with `cargo xtask sandbox images build`)",
    )?;
    refs.get(IMAGE).cloned().context("no consumer image")
}

pub struct Consumer<'a> {
    pub sb: &'a Sandbox,
    pub container: String,
}

impl<'a> Consumer<'a> {
    /// Starts (or keeps) the consumer container with `kit` mounted; `image` is the consumer
    /// image's reference, made present by the caller (before anything else is started).
    pub fn start(sh: &Shell, sb: &'a Sandbox, image: &str, kit: &Path) -> Result<Consumer<'a>> {
        // Without a kit yet (a scenario starts the consumer before it migrates) the policy link
        // dangles and every pull is refused: the consumer fails closed until `migrate` writes one.
        std::fs::create_dir_all(kit).with_context(|| format!("creating {}", kit.display()))?;
        let c = Consumer { sb, container: sb.container(IMAGE) };
        if !super::helper::ensure(sh, sb, &c.run_spec(image, kit))? {
            return Ok(c);
        }
        let out = c.exec(&setup_script(), &[])?;
        if !out.ok() {
            let _ = sb.remove_own_containers(sh, std::slice::from_ref(&c.container));
            bail!("setting up the consumer container failed: {}", out.reason());
        }
        ui::status("Started", format!("{} ({image}, kit {})", c.container, kit.display()));
        Ok(c)
    }

    /// The same consumer on the host's network (`migrate --from --apply`: a registry the host
    /// reaches, such as one published on its loopback, which a sandbox network does not reach),
    /// under a name of its own; always started afresh, with this `kit`, and removed by [`Self::stop`].
    pub fn start_on_host(sh: &Shell, sb: &'a Sandbox, image: &str, kit: &Path) -> Result<Consumer<'a>> {
        std::fs::create_dir_all(kit).with_context(|| format!("creating {}", kit.display()))?;
        let c = Consumer { sb, container: sb.container(HOST_NAME) };
        let spec = RunSpec {
            name: c.container.clone(),
            network: "host".into(),
            // None on the host's network: the container has the host's name there.
            hostname: String::new(),
            labels: sb.labels(Some(HOST_NAME)),
            ..c.run_spec(image, kit)
        };
        if sb.engine.container(sh, &c.container)?.is_some() {
            sb.remove_own_containers(sh, std::slice::from_ref(&c.container))?;
        }
        sb.engine.run(sh, &spec).context("starting the consumer container on the host's network")?;
        // The kit is written before: a registry with TLS has no registries.conf entry, and its
        // link would dangle.
        let script = format!(
            "{}\n[ -e {KIT_MOUNT}/{conf} ] || rm -f /etc/containers/registries.conf.d/*",
            setup_script(),
            conf = kit::REGISTRIES_CONF
        );
        let out = c.exec(&script, &[])?;
        if !out.ok() {
            c.stop(sh);
            bail!("setting up the consumer container failed: {}", out.reason());
        }
        ui::status("Started", format!("{} ({image}, host network, kit {})", c.container, kit.display()));
        Ok(c)
    }

    /// Removes the container (the host-network one: nothing else keeps it).
    pub fn stop(&self, sh: &Shell) {
        if let Err(e) = self.sb.remove_own_containers(sh, std::slice::from_ref(&self.container)) {
            ui::warn(format!("removing {}: {e:#}", self.container));
        }
    }

    fn run_spec(&self, image: &str, kit: &Path) -> RunSpec {
        RunSpec {
            env: vec![EnvVar { name: "PODMAN_IGNORE_CGROUPSV1_WARNING".into(), value: "1".into(), secret: false }],
            mounts: vec![Mount::Bind { source: kit.to_path_buf(), target: KIT_MOUNT.into(), readonly: true }],
            // podman's user namespace needs these on docker (see the module notes).
            cap_add: vec!["SYS_ADMIN".into()],
            security_opt: vec!["seccomp=unconfined".into()],
            ..super::helper::spec(self.sb, IMAGE, image)
        }
    }

    /// `sh -c script sh args…` in the container, run as a scenario step is: a signal that ends
    /// the run kills its processes there.
    pub fn exec(&self, script: &str, args: &[&str]) -> Result<Output> {
        let step = Step { container: &self.container, script, args, env: &[] };
        step::run(&self.sb.engine, &step, step::NO_LIMIT, &Masker::new(&[]), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_containers_points_into_the_kit() {
        let s = setup_script();
        assert!(s.contains("ln -sfn /kit/containers/policy.json /etc/containers/policy.json"), "{s}");
        assert!(s.contains("/kit/containers/registries.d /etc/containers/registries.d"), "{s}");
        assert!(s.contains("driver = \"vfs\""), "{s}");
        for script in [s.as_str(), SKOPEO_PULL, PODMAN_PULL] {
            let status = std::process::Command::new("sh").args(["-n", "-c", script]).status().unwrap();
            assert!(status.success(), "{script}");
        }
    }
}
