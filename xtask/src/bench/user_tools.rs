//! The baselines a user would pick instead of `up`, run on the project's own export in the same
//! warm cycles as `up` and the plain CLI:
//!
//! - docker: Compose v2 (`docker compose up --wait`, then `down`) on `export compose`, waiting on
//!   the export's healthchecks, the stack's volumes kept between cycles as `down` keeps them.
//! - podman 4.3: `podman kube play` on `export kube`. Neither way to "wait" works there: `kube
//!   play` has no `--wait` yet (4.3.1) and ignores readiness probes, and Compose v2 against
//!   podman's socket never sees a healthy container on a host without systemd (podman 4.3 runs
//!   healthchecks from systemd timers; measured: `unable to get systemd connection to add
//!   healthchecks`, every container `starting` for good). And a second `kube play` refuses the
//!   claim volumes the first one left. So the pod is played once (not measured), and a warm cycle
//!   is what a podman user then types: `podman pod start`, the export's own readiness probes
//!   polled with `podman exec` until each passes, and `podman pod stop`. That keeps the
//!   containers between cycles (`up` re-creates them), so the baseline does less than `up`.
//!
//! The exported stack runs under its own name (`<bench>-compose`, `<bench>-kube`) and labels
//! (that name, an id of its own), so the bench sandbox's `down` and `up` never take its stopped
//! containers for their own; what an interrupted bench left of it is swept by label before the
//! next one starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::baselines::until;
use crate::engine::objects::Kind as ObjectKind;
use crate::engine::{Engine, EngineKind};
use crate::export::{self, compose, kube};
use crate::sandbox::{Sandbox, LABEL_ID, LABEL_INSTANCE};

pub(super) struct UserTool<'a> {
    engine: &'a Engine,
    kind: Kind,
    /// The exported stack's own name: Compose's project, the pod.
    name: String,
    dir: tempfile::TempDir,
    /// (container, probe argv) of every service, for the podman wait.
    probes: Vec<(String, Vec<String>)>,
    volumes: Vec<String>,
}

enum Kind {
    Compose { bin: PathBuf },
    Kube,
}

impl<'a> UserTool<'a> {
    /// What the baseline is, for the report.
    pub(super) fn describe(engine: EngineKind) -> &'static str {
        match engine {
            EngineKind::Docker => "Compose v2 2.40.3 `up --wait` on `export compose` (its healthchecks), then `down`",
            EngineKind::Podman => {
                "`podman kube play` of `export kube` once, then `pod start` + the export's probes via `exec` / `pod stop`"
            }
        }
    }

    /// Exports the running bench sandbox under another name (its containers must exist).
    pub(super) fn export(sh: &Shell, engine: &'a Engine, sb: &Sandbox) -> Result<UserTool<'a>> {
        let mut plan = export::plan(sh, sb).context("exporting the bench sandbox")?;
        let (suffix, kind) = match engine.kind {
            EngineKind::Docker => ("compose", Kind::Compose { bin: crate::compose_v2::ensure(sh)? }),
            EngineKind::Podman => {
                // Measured on a fresh machine: without it, the first `kube play` fails on
                // `finding pause binary` (setup installs podman without its recommends).
                which::which("catatonit").map_err(|_| {
                    anyhow::anyhow!(
                        "`podman kube play` builds its pods' pause image from catatonit (nothing is pulled), which is not installed: `apt-get install catatonit` (`cargo xtask test --yes` installs it)"
                    )
                })?;
                ("kube", Kind::Kube)
            }
        };
        let name = format!("{}-{suffix}", sb.name);
        plan.sandbox = name.clone();
        let relabel = |labels: &mut Vec<(String, String)>| {
            for (k, v) in labels.iter_mut() {
                if k == LABEL_INSTANCE {
                    *v = name.clone();
                } else if k == LABEL_ID {
                    *v = format!("{v}-{suffix}");
                }
            }
        };
        relabel(&mut plan.labels);
        for part in &mut plan.parts {
            part.spec.name = crate::sandbox::name::object(&name, &part.service);
            relabel(&mut part.spec.labels);
        }
        let dir = tempfile::Builder::new().prefix("trust-sandbox-bench-export-").tempdir()?;
        let out = dir.path().canonicalize()?;
        let manifest = match kind {
            Kind::Compose { .. } => (compose::FILE, compose::render(&plan)?),
            Kind::Kube => {
                kube::prepare(&mut plan)?;
                (kube::FILE, kube::render(&plan, &out)?)
            }
        };
        export::write(&out, &plan, &[manifest])?;
        let probes =
            plan.parts.iter().map(|p| (crate::sandbox::name::object(&name, &p.service), p.probe.clone())).collect();
        let volumes = match kind {
            Kind::Compose { .. } => plan.volumes.iter().map(|v| format!("{name}_{v}")).collect(),
            Kind::Kube => plan.volumes.iter().map(|v| kube::claim_name(&name, v)).collect(),
        };
        Ok(UserTool { engine, kind, name, dir, probes, volumes })
    }

    /// Starts the exported stack once (its volumes initialised, the DB's included) and takes it
    /// down again: from here on each cycle is warm. The bench sandbox must be down (same ports).
    pub(super) fn initialise(&self, sh: &Shell) -> Result<()> {
        match self.kind {
            Kind::Compose { .. } => self.up(sh).context("a first `compose up --wait` (initialising its volumes)")?,
            Kind::Kube => {
                self.engine.kube_play(sh, &self.manifest()).context("a first `podman kube play`")?;
                self.wait(sh).context("waiting for the played pod")?;
            }
        }
        self.down(sh)
    }

    fn manifest(&self) -> PathBuf {
        let file = match self.kind {
            Kind::Compose { .. } => compose::FILE,
            Kind::Kube => kube::FILE,
        };
        self.dir.path().join(file)
    }

    fn compose(&self, bin: &Path, args: &[&str]) -> Result<()> {
        let out = Command::new(bin)
            .args(["-p", &self.name, "-f"])
            .arg(self.manifest())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = text.lines().rev().take(4).collect();
            bail!("compose {} failed: {}", args.join(" "), tail.into_iter().rev().collect::<Vec<_>>().join(" | "));
        }
        Ok(())
    }

    /// Up to all ready, as the tool's user gets it.
    pub(super) fn up(&self, sh: &Shell) -> Result<()> {
        match &self.kind {
            Kind::Compose { bin } => self.compose(bin, &["up", "--detach", "--wait", "--wait-timeout", "90"]),
            Kind::Kube => {
                self.engine.pod(sh, "start", &self.name)?;
                self.wait(sh)
            }
        }
    }

    fn wait(&self, sh: &Shell) -> Result<()> {
        for (container, probe) in &self.probes {
            let argv: Vec<&str> = probe.iter().map(String::as_str).collect();
            until(container, || self.engine.exec(sh, container, &argv, &[], None).is_ok_and(|o| o.ok()))?;
        }
        Ok(())
    }

    /// Containers stopped (Compose also removes them and its network); volumes kept.
    pub(super) fn down(&self, sh: &Shell) -> Result<()> {
        match &self.kind {
            Kind::Compose { bin } => self.compose(bin, &["down"]),
            Kind::Kube => self.engine.pod(sh, "stop", &self.name),
        }
    }

    /// Everything the baseline created: containers, pod, network and its own volumes.
    pub(super) fn remove(&self, sh: &Shell) -> Result<()> {
        match &self.kind {
            Kind::Compose { bin } => self.compose(bin, &["down", "--volumes"]),
            Kind::Kube => {
                self.engine.kube_down(sh, &self.manifest())?;
                self.engine.volume_rm(sh, &self.volumes)
            }
        }
    }

    /// What an interrupted bench left of the exported stacks of `bench` (by their labels).
    pub(super) fn sweep(sh: &Shell, engine: &Engine, bench: &str) -> Result<()> {
        for suffix in ["compose", "kube"] {
            let name = format!("{bench}-{suffix}");
            if engine.kind == EngineKind::Podman {
                engine.pod_rm(sh, &name)?;
            }
            let mut found = Vec::new();
            for kind in [ObjectKind::Container, ObjectKind::Network, ObjectKind::Volume] {
                found.extend(engine.objects_labelled(sh, kind, LABEL_INSTANCE, &name)?);
            }
            engine.remove_objects(sh, &found)?;
        }
        Ok(())
    }
}
