//! The baselines: the same work done with plain engine commands, as a person would type them,
//! so every figure of ours has something on the same machine to be set against.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{secs_since, PLAIN_POLL, READY_TIMEOUT};
use crate::engine::{Engine, RunSpec};
use crate::sandbox::Sandbox;
use crate::table;
use crate::table::readiness::{PlainCheck, Readiness};
use crate::util;

/// The same containers as `up` starts, started with the plain engine commands (through the
/// engine seam, each argv as a person would type it).
pub(super) struct Plain<'a> {
    sh: &'a Shell,
    engine: &'a Engine,
    network: String,
    network_labels: Vec<(String, String)>,
    services: Vec<(RunSpec, Readiness)>,
    /// `up`'s waves as indices into `services`: a script would start each wave with `&` and `wait`.
    waves: Vec<Vec<usize>>,
    ca_pem: Vec<u8>,
}

impl<'a> Plain<'a> {
    pub(super) fn new(sh: &'a Shell, engine: &'a Engine, sb: &Sandbox, specs: Vec<RunSpec>) -> Result<Plain<'a>> {
        let services = specs.into_iter().zip(sb.spec.services.iter().map(|s| s.readiness.clone())).collect();
        let index = |name: &str| sb.spec.services.iter().position(|s| s.name == name).expect("a table service");
        let waves = table::waves::plan(&sb.spec)?.iter().map(|w| w.iter().map(|s| index(&s.name)).collect()).collect();
        Ok(Plain {
            sh,
            engine,
            network: sb.network(),
            // The labels let `destroy` find the network even if a baseline dies half-way.
            network_labels: sb.labels(None),
            services,
            waves,
            ca_pem: std::fs::read(sb.ca_file()).context("reading the sandbox CA")?,
        })
    }

    /// `up`'s waves with the plain commands: each wave's `run`s, then their until-ready loops side
    /// by side. Returns each service's seconds from `run` to ready, to show where a gap comes from.
    pub(super) fn up(&self) -> Result<Vec<(String, f64)>> {
        self.engine.network_create(self.sh, &self.network, &self.network_labels)?;
        let mut took = Vec::new();
        for wave in &self.waves {
            let mut started = Vec::new();
            for &i in wave {
                let t = Instant::now();
                // `run` with the same argv as `up`; secret values through the client's environment.
                self.engine.run(self.sh, &self.services[i].0)?;
                started.push((i, t));
            }
            // What the waits need, without the caller's shell (a `Shell` stays on its thread).
            let (engine, services, ca_pem) = (self.engine, &self.services, self.ca_pem.as_slice());
            let results: Vec<Result<(String, f64)>> = std::thread::scope(|s| {
                let waits: Vec<_> = started
                    .iter()
                    .map(|&(i, t)| {
                        s.spawn(move || {
                            let (spec, readiness) = &services[i];
                            wait(engine, ca_pem, &Shell::new()?, spec, readiness)
                                .with_context(|| format!("plain start of {}", spec.name))?;
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
            wait(self.engine, &self.ca_pem, self.sh, spec, readiness)
                .with_context(|| format!("{} after a start", spec.name))?;
        }
        Ok(())
    }

    /// The engine restarts the same containers (no grace period), then each is waited for in
    /// start order, as after `up`.
    pub(super) fn restart(&self) -> Result<()> {
        let names: Vec<&str> = self.services.iter().map(|(s, _)| s.name.as_str()).collect();
        self.engine.restart_now(self.sh, &names)?;
        self.wait_all().context("after the plain restart")
    }

    pub(super) fn down(&self) -> Result<()> {
        let mut rm = vec!["rm", "-f"];
        rm.extend(self.services.iter().map(|(s, _)| s.name.as_str()));
        self.engine.checked(self.sh, &rm)?;
        self.engine.checked(self.sh, &["network", "rm", &self.network]).map(drop)
    }
}

/// Until `spec`'s service answers its plain check (or the bench's patience ends).
fn wait(engine: &Engine, ca_pem: &[u8], sh: &Shell, spec: &RunSpec, readiness: &Readiness) -> Result<()> {
    let exec = |argv: &[String]| {
        let mut args = vec!["exec", spec.name.as_str()];
        args.extend(argv.iter().map(String::as_str));
        engine.raw(sh, &args).is_ok_and(|out| out.ok())
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
        PlainCheck::Get { port, paths, tls } => {
            let scheme = if tls { "https" } else { "http" };
            let base = format!("{scheme}://127.0.0.1:{}", host_port(port)?);
            let agent = util::http_agent(tls.then_some(ca_pem))?;
            until(&spec.name, || {
                paths.iter().all(|p| agent.get(format!("{base}{p}")).call().is_ok_and(|r| r.status() == 200))
            })
        }
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
