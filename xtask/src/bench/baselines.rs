//! The baselines: the same work done with plain engine commands, as a person would type them,
//! so every figure of ours has something on the same machine to be set against.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::{checked, secs_since, PLAIN_POLL, READY_TIMEOUT};
use crate::engine::{self, Engine, RunSpec};
use crate::sandbox::readiness::{PlainCheck, Readiness};
use crate::sandbox::{waves, Sandbox};
use crate::util;

/// The same containers as `up` starts, started with the plain engine CLI.
pub(super) struct Plain<'a> {
    bin: &'a Path,
    network: String,
    network_labels: Vec<String>,
    services: Vec<(RunSpec, Readiness)>,
    /// `up`'s waves as indices into `services`: a script would start each wave with `&` and `wait`.
    waves: Vec<Vec<usize>>,
    ca_pem: Vec<u8>,
}

impl<'a> Plain<'a> {
    pub(super) fn new(engine: &'a Engine, sb: &Sandbox, specs: Vec<RunSpec>) -> Result<Plain<'a>> {
        let services = specs.into_iter().zip(sb.spec.services.iter().map(|s| s.readiness.clone())).collect();
        let index = |name: &str| sb.spec.services.iter().position(|s| s.name == name).expect("a table service");
        let waves = waves::plan(&sb.spec)?.iter().map(|w| w.iter().map(|s| index(&s.name)).collect()).collect();
        Ok(Plain {
            bin: &engine.bin,
            network: sb.network(),
            // The labels let `destroy` find the network even if a baseline dies half-way.
            network_labels: sb.labels(None).into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            services,
            waves,
            ca_pem: std::fs::read(sb.ca_file()).context("reading the sandbox CA")?,
        })
    }

    /// `up`'s waves with the plain CLI: each wave's `run`s, then their until-ready loops side by
    /// side. Returns each service's seconds from `run` to ready, to show where a gap comes from.
    pub(super) fn up(&self) -> Result<Vec<(String, f64)>> {
        let mut net = Command::new(self.bin);
        net.args(["network", "create"]);
        for l in &self.network_labels {
            net.args(["--label", l]);
        }
        checked(net.arg(&self.network))?;
        let mut took = Vec::new();
        for wave in &self.waves {
            let mut started = Vec::new();
            for &i in wave {
                let spec = &self.services[i].0;
                let t = Instant::now();
                let mut c = Command::new(self.bin);
                c.args(engine::run_args(spec));
                for e in spec.env.iter().filter(|e| e.secret) {
                    c.env(&e.name, &e.value);
                }
                checked(&mut c)?;
                started.push((i, t));
            }
            let results: Vec<Result<(String, f64)>> = std::thread::scope(|s| {
                let waits: Vec<_> = started
                    .iter()
                    .map(|&(i, t)| {
                        s.spawn(move || {
                            let (spec, readiness) = &self.services[i];
                            self.wait(spec, readiness).with_context(|| format!("plain start of {}", spec.name))?;
                            Ok((spec.name.clone(), secs_since(t)))
                        })
                    })
                    .collect();
                waits.into_iter().map(|w| w.join().expect("a wait does not panic")).collect()
            });
            for r in results {
                took.push(r?);
            }
        }
        Ok(took)
    }

    /// Every service ready again, in table order (after a restart, say).
    pub(super) fn wait_all(&self) -> Result<()> {
        for (spec, readiness) in &self.services {
            self.wait(spec, readiness).with_context(|| format!("{} after a start", spec.name))?;
        }
        Ok(())
    }

    fn wait(&self, spec: &RunSpec, readiness: &Readiness) -> Result<()> {
        let exec = |argv: &[String]| {
            Command::new(self.bin)
                .arg("exec")
                .arg(&spec.name)
                .args(argv)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let host_port = |port: u16| {
            spec.publish
                .iter()
                .find(|p| p.2 == port)
                .map(|p| p.1)
                .with_context(|| format!("{} publishes no port {port}", spec.name))
        };
        match readiness.plain_check() {
            PlainCheck::Exec(argv) => until(&spec.name, || exec(&argv)),
            PlainCheck::Get { port, path, tls } => {
                let scheme = if tls { "https" } else { "http" };
                let url = format!("{scheme}://127.0.0.1:{}{path}", host_port(port)?);
                let agent = util::http_agent(tls.then_some(self.ca_pem.as_slice()))?;
                until(&spec.name, || agent.get(&url).call().is_ok_and(|r| r.status() == 200))
            }
        }
    }

    pub(super) fn down(&self) -> Result<()> {
        let mut rm = Command::new(self.bin);
        rm.args(["rm", "-f"]).args(self.services.iter().map(|(s, _)| &s.name));
        checked(&mut rm)?;
        checked(Command::new(self.bin).args(["network", "rm", &self.network]))
    }
}

pub(super) fn until(what: &str, mut probe: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while !probe() {
        if started.elapsed() > READY_TIMEOUT {
            bail!("{what} not ready after {} s", READY_TIMEOUT.as_secs());
        }
        std::thread::sleep(PLAIN_POLL);
    }
    Ok(())
}
