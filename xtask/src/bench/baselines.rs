//! The baselines: the same work done with plain engine commands, as a person would type them,
//! so every figure of ours has something on the same machine to be set against.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{secs_since, PLAIN_POLL, READY_TIMEOUT};
use crate::engine::{Engine, RunSpec};
use crate::sandbox::Sandbox;
use crate::scenario::{Outcome, Scenario};
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
    ca_pem: Vec<u8>,
}

impl<'a> Plain<'a> {
    pub(super) fn new(sh: &'a Shell, engine: &'a Engine, sb: &Sandbox, specs: Vec<RunSpec>) -> Result<Plain<'a>> {
        let services = specs.into_iter().zip(sb.spec.services.iter().map(|s| s.readiness.clone())).collect();
        Ok(Plain {
            sh,
            engine,
            network: sb.network(),
            // The labels let `destroy` find the network even if a baseline dies half-way.
            network_labels: sb.labels(None),
            services,
            ca_pem: std::fs::read(sb.ca_file()).context("reading the sandbox CA")?,
        })
    }

    /// Returns each service's seconds from `run` to ready, to show where a gap comes from.
    pub(super) fn up(&self) -> Result<Vec<(String, f64)>> {
        self.engine.network_create(self.sh, &self.network, &self.network_labels)?;
        let mut took = Vec::new();
        for (spec, readiness) in &self.services {
            let t = Instant::now();
            // `run` with the same argv as `up`; secret values through the client's environment.
            self.engine.run(self.sh, spec)?;
            self.wait(spec, readiness).with_context(|| format!("plain start of {}", spec.name))?;
            took.push((spec.name.clone(), secs_since(t)));
        }
        Ok(took)
    }

    fn wait(&self, spec: &RunSpec, readiness: &Readiness) -> Result<()> {
        let exec = |argv: &[String]| {
            let mut args = vec!["exec", spec.name.as_str()];
            args.extend(argv.iter().map(String::as_str));
            self.engine.raw(self.sh, &args).is_ok_and(|out| out.ok())
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

    /// The engine restarts the same containers (no grace period), then each is waited for in
    /// start order, as after `up`.
    pub(super) fn restart(&self) -> Result<()> {
        let names: Vec<&str> = self.services.iter().map(|(s, _)| s.name.as_str()).collect();
        self.engine.restart_now(self.sh, &names)?;
        for (spec, readiness) in &self.services {
            self.wait(spec, readiness).with_context(|| format!("plain restart of {}", spec.name))?;
        }
        Ok(())
    }

    pub(super) fn down(&self) -> Result<()> {
        let mut rm = vec!["rm", "-f"];
        rm.extend(self.services.iter().map(|(s, _)| s.name.as_str()));
        self.engine.checked(self.sh, &rm)?;
        self.engine.checked(self.sh, &["network", "rm", &self.network]).map(drop)
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

pub(super) fn fill(text: &str, vars: &[(String, String)]) -> String {
    vars.iter().fold(text.to_string(), |acc, (k, v)| acc.replace(&format!("{{{{{k}}}}}"), v))
}

/// The guide's scripts as a person would paste them into `engine exec`. Its own run id keeps its
/// layer apart from the runner's: registry blobs are shared and every run tampers with its blob.
pub(super) fn guide_plain(sh: &Shell, engine: &Engine, sb: &Sandbox, guide: &Scenario) -> Result<()> {
    let client_env = sb.secrets()?.client_env();
    let mut vars: Vec<(String, String)> = vec![
        ("registry".into(), sb.spec.registry_address()?),
        ("server".into(), sb.spec.server_url()?),
        ("run_id".into(), util::random_hex(4)?),
    ];
    for (n, step) in guide.steps.iter().enumerate() {
        let (Some(script), None, None) = (&step.run, &step.identity, &step.clock) else {
            bail!("step {} ({}) is not a plain command", n + 1, step.title);
        };
        let mut env = if step.on.is_client() { client_env.clone() } else { Vec::new() };
        env.extend(step.env.iter().map(|(k, v)| (k.clone(), fill(v, &vars))));
        let container = sb.container(crate::scenario::executor::container_of(&step.on)?);
        // Values through the environment, as the stack does: passphrases stay off argv.
        let out = engine
            .exec(sh, &container, &["sh", "-c", &fill(script, &vars)], &env, None)
            .with_context(|| format!("exec for step {}", n + 1))?;
        let text = format!("{}\n{}", out.stdout, out.stderr);
        let as_expected = match step.expect.effective_outcome() {
            Outcome::Success => out.ok(),
            Outcome::Failure => !out.ok(),
            Outcome::Any => true,
        };
        if !as_expected {
            let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
            bail!("step {} ({}) exited {}: {}", n + 1, step.title, out.code, tail.join(" | "));
        }
        for cap in &step.capture {
            let re = regex::Regex::new(&cap.regex).with_context(|| format!("capture `{}`", cap.name))?;
            let value = re
                .captures(&text)
                .and_then(|m| m.get(1))
                .with_context(|| format!("step {} ({}): capture `{}` found nothing", n + 1, step.title, cap.name))?;
            vars.push((cap.name.clone(), value.as_str().to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn placeholders_fill_only_known_names() {
        let vars = vec![("registry".to_string(), "r:5000".to_string())];
        assert_eq!(fill("push {{registry}}/x {{digest}}", &vars), "push r:5000/x {{digest}}");
    }
}
