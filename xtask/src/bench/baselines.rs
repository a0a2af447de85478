//! The baselines: the same work done with plain engine commands, as a person would type them,
//! so every figure of ours has something on the same machine to be set against.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::{checked, secs_since, PLAIN_POLL, READY_TIMEOUT};
use crate::engine::{self, Engine, RunSpec};
use crate::sandbox::readiness::{PlainCheck, Readiness};
use crate::sandbox::Sandbox;
use crate::scenario::{Outcome, Scenario, Target};
use crate::util;

/// The same containers as `up` starts, started with the plain engine CLI.
pub(super) struct Plain<'a> {
    bin: &'a Path,
    network: String,
    network_labels: Vec<String>,
    services: Vec<(RunSpec, Readiness)>,
    ca_pem: Vec<u8>,
}

impl<'a> Plain<'a> {
    pub(super) fn new(engine: &'a Engine, sb: &Sandbox, specs: Vec<RunSpec>) -> Result<Plain<'a>> {
        let services = specs.into_iter().zip(sb.spec.services.iter().map(|s| s.readiness.clone())).collect();
        Ok(Plain {
            bin: &engine.bin,
            network: sb.network(),
            // The labels let `destroy` find the network even if a baseline dies half-way.
            network_labels: sb.labels(None).into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            services,
            ca_pem: std::fs::read(sb.ca_file()).context("reading the sandbox CA")?,
        })
    }

    /// Returns each service's seconds from `run` to ready, to show where a gap comes from.
    pub(super) fn up(&self) -> Result<Vec<(String, f64)>> {
        let mut net = Command::new(self.bin);
        net.args(["network", "create"]);
        for l in &self.network_labels {
            net.args(["--label", l]);
        }
        checked(net.arg(&self.network))?;
        let mut took = Vec::new();
        for (spec, readiness) in &self.services {
            let t = Instant::now();
            let mut c = Command::new(self.bin);
            c.args(engine::run_args(spec));
            for e in spec.env.iter().filter(|e| e.secret) {
                c.env(&e.name, &e.value);
            }
            checked(&mut c)?;
            self.wait(spec, readiness).with_context(|| format!("plain start of {}", spec.name))?;
            took.push((spec.name.clone(), secs_since(t)));
        }
        Ok(took)
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

    /// The engine restarts the same containers (no grace period), then each is waited for in
    /// start order, as after `up`.
    pub(super) fn restart(&self) -> Result<()> {
        let mut c = Command::new(self.bin);
        c.args(["restart", "--time", "0"]).args(self.services.iter().map(|(s, _)| &s.name));
        checked(&mut c)?;
        for (spec, readiness) in &self.services {
            self.wait(spec, readiness).with_context(|| format!("plain restart of {}", spec.name))?;
        }
        Ok(())
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

pub(super) fn fill(text: &str, vars: &[(String, String)]) -> String {
    vars.iter().fold(text.to_string(), |acc, (k, v)| acc.replace(&format!("{{{{{k}}}}}"), v))
}

/// The guide's scripts as a person would paste them into `engine exec`. Its own run id keeps its
/// layer apart from the runner's: registry blobs are shared and every run tampers with its blob.
pub(super) fn guide_plain(engine: &Engine, sb: &Sandbox, guide: &Scenario) -> Result<()> {
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
        let mut env = if step.on == Target::Client { client_env.clone() } else { Vec::new() };
        env.extend(step.env.iter().map(|(k, v)| (k.clone(), fill(v, &vars))));
        let mut c = Command::new(&engine.bin);
        c.arg("exec");
        for (k, v) in &env {
            // Values through the environment, as the stack does: passphrases stay off argv.
            c.args(["--env", k]).env(k, v);
        }
        c.arg(sb.container(crate::scenario::executor::container_of(&step.on)?)).args([
            "sh",
            "-c",
            &fill(script, &vars),
        ]);
        let out = c.stdin(Stdio::null()).output().with_context(|| format!("exec for step {}", n + 1))?;
        let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let as_expected = match step.expect.effective_outcome() {
            Outcome::Success => out.status.success(),
            Outcome::Failure => !out.status.success(),
            Outcome::Any => true,
        };
        if !as_expected {
            let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
            bail!("step {} ({}) exited {}: {}", n + 1, step.title, out.status, tail.join(" | "));
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
