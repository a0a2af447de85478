//! `bench`: what the sandbox's own machinery costs. Every figure is set against a baseline taken
//! in the same run on the same machine (plain engine commands doing the same work), so the ratios
//! mean something on any machine; absolute targets are kept only where a person waits or pays
//! (down, memory, a cold build). Timings are reported here, never asserted in tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xshell::Shell;

use crate::cli::{BenchArgs, RunArgs};
use crate::engine::{self, Engine, EngineKind, RunSpec};
use crate::images::{self, debian, sources, SourceKind};
use crate::scenario::{self, Outcome, Scenario, Target};
use crate::spec::{Readiness, Spec};
use crate::stack::{self, Sandbox, Selector, UpOptions};
use crate::{play, ports, state, ui};

const SCHEMA: &str = "trust-sandbox/bench/v1";
/// Same patience as `up`, so a baseline never fails where the stack would still be waiting.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// What a person writes by hand: `until probe; do sleep 0.1; done`.
const PLAIN_POLL: Duration = Duration::from_millis(100);
/// Outside the `localhost/trust-sandbox/` namespace, so `images list|rm` never see the cold-build copies.
const THROWAWAY_REPO: &str = "localhost/trust-sandbox-bench";

pub fn run(sh: &Shell, sel: &Selector, args: &BenchArgs) -> Result<()> {
    let engine = Engine::detect(sh, sel.engine).context("the bench needs a container engine")?;
    let spec = crate::spec::load()?;
    let runs = args.runs.max(1);
    let bench = Selector { name: format!("{}-bench", sel.name), engine: Some(engine.kind) };
    let started_at = state::now_rfc3339();
    ui::info("Bench", format!("{runs} run(s) on {} with a dedicated sandbox `{}`", engine.kind, bench.name));

    let mut rows = {
        // Declared before the sandbox exists so that every way out of this block destroys it.
        let _teardown = Teardown { sh, name: bench.name.clone() };
        sandbox_rows(sh, &engine, &spec, &bench, runs)
    };
    if args.cold_build {
        rows.push(cold_build_row(sh, &engine, &spec, runs));
    }

    let facts = Facts::collect(sh, &engine, runs, started_at, args.cold_build);
    print!("{}", render_table(&rows, &facts));
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "schema": SCHEMA, "facts": facts, "measurements": rows });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        ui::status("Wrote", path.display().to_string());
    }
    if rows.iter().all(|r| r.ours.is_none()) {
        bail!("no measurement could be taken (see the errors above)");
    }
    Ok(())
}

struct Teardown<'a> {
    sh: &'a Shell,
    name: String,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        // No engine in the selector: destroy follows the recorded engine, or sweeps both by label
        // when the state directory never got written.
        let sel = Selector { name: self.name.clone(), engine: None };
        if let Err(e) = stack::destroy(self.sh, &sel) {
            ui::warn(format!(
                "destroying the bench sandbox failed: {e:#}; run `cargo xtask sandbox --name {} destroy`",
                self.name
            ));
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Stats {
    min: f64,
    median: f64,
    samples: Vec<f64>,
}

impl Stats {
    fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
        Some(Stats { min: s[0], median, samples: samples.to_vec() })
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
enum Goal {
    /// median(ours) / median(baseline) at most this.
    MaxRatio(f64),
    /// median(ours) at most this, in the row's unit.
    MaxValue(f64),
}

#[derive(Debug, Serialize)]
struct Row {
    key: &'static str,
    title: &'static str,
    unit: &'static str,
    ours: Option<Stats>,
    baseline: Option<Stats>,
    ratio: Option<f64>,
    target: Goal,
    met: Option<bool>,
    /// Set when the measurement failed; figures gathered before the failure are kept.
    error: Option<String>,
    /// Per service (memory) or per image (cold build), medians.
    detail: BTreeMap<String, f64>,
    baseline_is: &'static str,
}

impl Row {
    fn new(key: &'static str, title: &'static str, unit: &'static str, target: Goal, baseline_is: &'static str) -> Row {
        Row {
            key,
            title,
            unit,
            ours: None,
            baseline: None,
            ratio: None,
            target,
            met: None,
            error: None,
            detail: BTreeMap::new(),
            baseline_is,
        }
    }

    fn set(&mut self, ours: &[f64], baseline: &[f64]) {
        self.ours = Stats::of(ours);
        self.baseline = Stats::of(baseline);
        self.ratio = match (&self.ours, &self.baseline) {
            (Some(o), Some(b)) if b.median > 0.0 => Some(o.median / b.median),
            _ => None,
        };
        self.met = match self.target {
            Goal::MaxRatio(max) => self.ratio.map(|r| r <= max),
            Goal::MaxValue(max) => self.ours.as_ref().map(|o| o.median <= max),
        };
    }

    fn fail(&mut self, err: &anyhow::Error) {
        fail_rows(&mut [self], err);
    }
}

/// One cause, one warning, however many measurements it stops.
fn fail_rows(rows: &mut [&mut Row], err: &anyhow::Error) {
    let titles: Vec<&str> = rows.iter().map(|r| r.title).collect();
    ui::warn(format!("bench {}: {err:#}", titles.join(", ")));
    for r in rows {
        r.error.get_or_insert_with(|| format!("{err:#}"));
    }
}

fn secs_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// The image source `up` would pick by default, so the bench runs the images people run.
fn image_source() -> SourceKind {
    std::env::var("TRUST_SANDBOX_IMAGES")
        .ok()
        .and_then(|v| <SourceKind as clap::ValueEnum>::from_str(&v, true).ok())
        .unwrap_or(SourceKind::Debian)
}

fn two_free_ports() -> Result<(u16, u16)> {
    let a = ports::ephemeral()?;
    // The kernel may hand the just-released port out again.
    for _ in 0..20 {
        let b = ports::ephemeral()?;
        if b != a {
            return Ok((a, b));
        }
    }
    bail!("the kernel kept handing out the same free port")
}

/// Measurements 1 to 4 all need the dedicated sandbox; each failure is recorded in its row.
fn sandbox_rows(sh: &Shell, engine: &Engine, spec: &Spec, bench: &Selector, runs: usize) -> Vec<Row> {
    let mut up_row = Row::new(
        "warm_up",
        "warm up -> all ready",
        "s",
        Goal::MaxRatio(1.3),
        "the same `run` argv via the plain CLI, each followed by an until-ready loop",
    );
    let mut down_row = Row::new("down", "down", "s", Goal::MaxValue(2.0), "`rm -f <all>` then `network rm`");
    let mut guide_row = Row::new(
        "guide",
        "guide scenario",
        "s",
        Goal::MaxRatio(1.3),
        "each step's script via plain `exec`, captures by regex, own run id",
    );
    let mut mem_row = Row::new("memory", "stack memory", "MB", Goal::MaxValue(250.0), "none (absolute target)");

    let up_opts = match two_free_ports() {
        Ok((server, registry)) => UpOptions {
            images: image_source(),
            image_opts: images::Options::default(),
            server_port: Some(server),
            registry_port: Some(registry),
            // What a plain `up` picks: the bench measures the default set-up.
            client: None,
            yes: false,
        },
        Err(e) => {
            let e = e.context("choosing ports for the bench sandbox");
            fail_rows(&mut [&mut up_row, &mut down_row, &mut guide_row, &mut mem_row], &e);
            return vec![up_row, down_row, guide_row, mem_row];
        }
    };

    // A bench interrupted by a signal never ran its teardown; start from nothing either way.
    if let Err(e) = stack::destroy(sh, &Selector { name: bench.name.clone(), engine: None }) {
        ui::warn(format!("clearing a leftover `{}`: {e:#}", bench.name));
    }
    ui::info("Bench", format!("creating `{}` (not measured)", bench.name));
    let sb = match stack::up(sh, bench, &up_opts) {
        Ok(sb) => sb,
        Err(e) => {
            let e = e.context(format!("creating the bench sandbox `{}`", bench.name));
            fail_rows(&mut [&mut up_row, &mut down_row, &mut guide_row, &mut mem_row], &e);
            return vec![up_row, down_row, guide_row, mem_row];
        }
    };

    let sb = warm_cycles(sh, engine, spec, bench, &up_opts, sb, runs, &mut up_row, &mut down_row);
    match sb {
        Some(sb) => {
            guide(sh, engine, &sb, runs, &mut guide_row);
            memory(engine, &sb, runs, &mut mem_row);
        }
        None => {
            let e = anyhow::anyhow!("the bench sandbox could not be brought back up after the warm cycles");
            fail_rows(&mut [&mut guide_row, &mut mem_row], &e);
        }
    }
    vec![up_row, down_row, guide_row, mem_row]
}

/// The same containers as `up` starts, started with the plain engine CLI.
struct Plain<'a> {
    bin: &'a Path,
    network: String,
    network_labels: Vec<String>,
    services: Vec<(RunSpec, Readiness)>,
    ca_pem: Vec<u8>,
}

impl<'a> Plain<'a> {
    fn new(engine: &'a Engine, sb: &Sandbox, specs: Vec<RunSpec>) -> Result<Plain<'a>> {
        let services = specs.into_iter().zip(sb.spec.services.iter().map(|s| s.readiness.clone())).collect();
        Ok(Plain {
            bin: &engine.bin,
            network: sb.network(),
            // The labels let `destroy` find the network even if a baseline dies half-way.
            network_labels: vec![
                format!("{}={}", stack::LABEL_INSTANCE, sb.name),
                format!("{}={}", stack::LABEL_ID, sb.state.id),
            ],
            services,
            ca_pem: std::fs::read(sb.ca_file()).context("reading the sandbox CA")?,
        })
    }

    /// Returns each service's seconds from `run` to ready, to show where a gap comes from.
    fn up(&self) -> Result<Vec<(String, f64)>> {
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
        let exec = |argv: &[&str]| {
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
        match readiness {
            Readiness::DbSchema => {
                until(&spec.name, || exec(&["mysql", "-S", "/run/mysqld/mysqld.sock", "-uroot", "-e", "select 1"]))
            }
            Readiness::Tcp { port } => {
                let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
                until(&spec.name, || exec(&["bash", "-c", &script]))
            }
            Readiness::Https { port, path } => {
                let url = format!("https://127.0.0.1:{}{path}", host_port(*port)?);
                let agent = http_agent(Some(&self.ca_pem))?;
                until(&spec.name, || agent.get(&url).call().is_ok())
            }
            Readiness::Http { port, path } => {
                let url = format!("http://127.0.0.1:{}{path}", host_port(*port)?);
                let agent = http_agent(None)?;
                until(&spec.name, || agent.get(&url).call().is_ok())
            }
            Readiness::ClientDaemon => {
                until(&spec.name, || exec(&["docker", "version", "--format", "{{.Server.Version}}"]))
            }
        }
    }

    fn down(&self) -> Result<()> {
        let mut rm = Command::new(self.bin);
        rm.args(["rm", "-f"]).args(self.services.iter().map(|(s, _)| &s.name));
        checked(&mut rm)?;
        checked(Command::new(self.bin).args(["network", "rm", &self.network]))
    }
}

fn checked(c: &mut Command) -> Result<()> {
    let out = c.stdin(Stdio::null()).output().with_context(|| format!("running {c:?}"))?;
    if !out.status.success() {
        bail!("{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn until(what: &str, mut probe: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while !probe() {
        if started.elapsed() > READY_TIMEOUT {
            bail!("{what} not ready after {} s", READY_TIMEOUT.as_secs());
        }
        std::thread::sleep(PLAIN_POLL);
    }
    Ok(())
}

/// A 200 is all the baseline asks for; anything else (503 while starting) is an error to ureq.
fn http_agent(ca_pem: Option<&[u8]>) -> Result<ureq::Agent> {
    let mut config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(3)));
    if let Some(pem) = ca_pem {
        let cert = ureq::tls::Certificate::from_pem(pem).context("parsing the sandbox CA")?.to_owned();
        let roots = ureq::tls::RootCerts::Specific(Arc::new(vec![cert]));
        config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
    }
    Ok(config.build().into())
}

/// Each cycle times, in this order: our down (of our stack), the plain up, the plain down, our up.
/// Both downs thus remove an all-ready stack and both ups start from the same down state (volumes
/// kept). Returns the sandbox if it is up at the end.
#[allow(clippy::too_many_arguments)]
fn warm_cycles(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    bench: &Selector,
    up_opts: &UpOptions,
    mut sb: Sandbox,
    runs: usize,
    up_row: &mut Row,
    down_row: &mut Row,
) -> Option<Sandbox> {
    let plain = match images::ensure(sh, engine, spec, up_opts.images, &up_opts.image_opts)
        .and_then(|refs| stack::run_specs(&sb, &refs))
        .and_then(|specs| Plain::new(engine, &sb, specs))
    {
        Ok(p) => p,
        Err(e) => {
            let e = e.context("preparing the plain baseline");
            fail_rows(&mut [up_row, down_row], &e);
            return Some(sb);
        }
    };
    let (mut up_ours, mut up_plain, mut down_ours, mut down_plain) = (vec![], vec![], vec![], vec![]);
    let mut per_service: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let prefix = format!("{}-", sb.name);
    for i in 1..=runs {
        let cycle = (|| -> Result<Sandbox> {
            let t = Instant::now();
            stack::down(sh, &sb).context("our down")?;
            down_ours.push(secs_since(t));
            let t = Instant::now();
            for (name, secs) in plain.up().context("plain up")? {
                let service = name.strip_prefix(&prefix).unwrap_or(&name).to_string();
                per_service.entry(format!("plain {service}")).or_default().push(secs);
            }
            up_plain.push(secs_since(t));
            let t = Instant::now();
            plain.down().context("plain down")?;
            down_plain.push(secs_since(t));
            let t = Instant::now();
            let fresh = stack::up(sh, bench, up_opts).context("our up")?;
            up_ours.push(secs_since(t));
            Ok(fresh)
        })();
        match cycle {
            Ok(fresh) => {
                sb = fresh;
                ui::info(
                    "Bench",
                    format!(
                        "warm cycle {i}/{runs}: up {:.2} s (plain {:.2} s), down {:.2} s (plain {:.2} s)",
                        up_ours[i - 1],
                        up_plain[i - 1],
                        down_ours[i - 1],
                        down_plain[i - 1]
                    ),
                );
            }
            Err(e) => {
                fail_rows(&mut [up_row, down_row], &e);
                break;
            }
        }
    }
    up_row.set(&up_ours, &up_plain);
    down_row.set(&down_ours, &down_plain);
    // Ours per service is on stderr (`up` prints each service's time); the plain side is only here.
    for (k, v) in per_service {
        if let Some(s) = Stats::of(&v) {
            up_row.detail.insert(k, s.median);
        }
    }
    if up_row.error.is_none() {
        return Some(sb);
    }
    // Whatever half-started stack the failure left, the later measurements want ours, all ready.
    let _ = plain.down();
    let _ = stack::down(sh, &sb);
    stack::up(sh, bench, up_opts).map_err(|e| ui::warn(format!("bringing the bench sandbox back: {e:#}"))).ok()
}

/// Alternates which side goes first, so neither always meets the colder client daemon.
fn guide(sh: &Shell, engine: &Engine, sb: &Sandbox, runs: usize, row: &mut Row) {
    let guide = match scenario::find(play::DEFAULT_SCENARIO) {
        Ok(g) => g,
        Err(e) => return row.fail(&e),
    };
    let (mut ours, mut plain) = (vec![], vec![]);
    'runs: for i in 1..=runs {
        for ours_turn in if i % 2 == 1 { [true, false] } else { [false, true] } {
            let t = Instant::now();
            let result = if ours_turn { guide_through_runner(sh, sb, &guide) } else { guide_plain(engine, sb, &guide) };
            match result {
                Ok(()) if ours_turn => ours.push(secs_since(t)),
                Ok(()) => plain.push(secs_since(t)),
                Err(e) => {
                    row.fail(&e.context(if ours_turn { "through the runner" } else { "plain" }));
                    break 'runs;
                }
            }
        }
        if let (Some(o), Some(p)) = (ours.last(), plain.last()) {
            ui::info("Bench", format!("guide {i}/{runs}: {o:.2} s (plain {p:.2} s)"));
        }
    }
    row.set(&ours, &plain);
}

fn guide_through_runner(sh: &Shell, sb: &Sandbox, guide: &Scenario) -> Result<()> {
    // The exit code says only pass or fail; the report also says which step failed.
    let report = tempfile::NamedTempFile::new().context("creating a report file")?;
    let args = RunArgs { step: false, keep_going: false, json: Some(report.path().display().to_string()), junit: None };
    play::run_scenarios_logged(sh, sb, std::slice::from_ref(guide), &args, Box::new(std::io::sink()))?;
    let text = std::fs::read_to_string(report.path()).context("reading the runner's report")?;
    let report: scenario::Report = serde_json::from_str(&text).context("parsing the runner's report")?;
    if report.summary.failed == 0 {
        return Ok(());
    }
    let failed = report.scenarios.iter().flat_map(|s| &s.steps).find(|s| s.status == scenario::StepStatus::Failed);
    match failed {
        Some(s) => bail!("the guide failed at step {} ({}): {}", s.index, s.title, s.message.as_deref().unwrap_or("")),
        None => bail!("the guide failed"),
    }
}

fn fill(text: &str, vars: &[(String, String)]) -> String {
    vars.iter().fold(text.to_string(), |acc, (k, v)| acc.replace(&format!("{{{{{k}}}}}"), v))
}

/// The guide's scripts as a person would paste them into `engine exec`. Its own run id keeps its
/// layer apart from the runner's: registry blobs are shared and every run tampers with its blob.
fn guide_plain(engine: &Engine, sb: &Sandbox, guide: &Scenario) -> Result<()> {
    let client_env = sb.secrets()?.client_env();
    let mut vars: Vec<(String, String)> = vec![
        ("registry".into(), scenario::runner::DEFAULT_REGISTRY.into()),
        ("server".into(), scenario::runner::DEFAULT_SERVER.into()),
        ("run_id".into(), state::random_hex(4)?),
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
        c.arg(sb.container(crate::play::container_of(step.on)?)).args(["sh", "-c", &fill(script, &vars)]);
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

/// `2.5GiB`, `105.4MiB` (docker), `106MB`, `37.32kB` (podman), `0B`: bytes.
fn parse_size(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * factor)
}

/// `stats` lines `<name>\t<used> / <limit>` into service -> bytes, for the containers asked for.
fn parse_stats(text: &str, prefix: &str) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, usage) = line.split_once('\t').with_context(|| format!("unexpected stats line {line:?}"))?;
        let used = usage.split('/').next().unwrap_or_default();
        let bytes = parse_size(used).with_context(|| format!("unreadable memory figure {used:?}"))?;
        let name = name.trim().trim_start_matches('/');
        out.insert(name.strip_prefix(prefix).unwrap_or(name).to_string(), bytes);
    }
    Ok(out)
}

/// Memory as the engine accounts it (the containers' cgroups), after the guide has exercised
/// every service, so the client's daemon holds images as it does in use.
fn memory(engine: &Engine, sb: &Sandbox, runs: usize, row: &mut Row) {
    let names: Vec<String> = sb.spec.services.iter().map(|s| sb.container(&s.name)).collect();
    let prefix = format!("{}-", sb.name);
    let mut totals = Vec::new();
    let mut per_service: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        let sample = (|| -> Result<BTreeMap<String, f64>> {
            let out = Command::new(&engine.bin)
                .args(["stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"])
                .args(&names)
                .stdin(Stdio::null())
                .output()
                .context("running stats")?;
            if !out.status.success() {
                bail!("{} stats failed: {}", engine.kind, String::from_utf8_lossy(&out.stderr).trim());
            }
            let parsed = parse_stats(&String::from_utf8_lossy(&out.stdout), &prefix)?;
            for s in &sb.spec.services {
                if !parsed.contains_key(&s.name) {
                    bail!("stats reported nothing for {}", s.name);
                }
            }
            Ok(parsed)
        })();
        match sample {
            Ok(parsed) => {
                totals.push(parsed.values().sum::<f64>() / 1e6);
                for (k, v) in parsed {
                    per_service.entry(k).or_default().push(v / 1e6);
                }
            }
            Err(e) => {
                row.fail(&e);
                break;
            }
        }
    }
    row.set(&totals, &[]);
    for (k, v) in per_service {
        if let Some(s) = Stats::of(&v) {
            row.detail.insert(k, s.median);
        }
    }
}

/// Cold means no cache at all: a fresh cache directory (tarballs and .debs), so the real cache and
/// the images running sandboxes use stay as they are.
fn cold_build_row(sh: &Shell, engine: &Engine, spec: &Spec, runs: usize) -> Row {
    let mut row = Row::new(
        "cold_build",
        "cold build, all images",
        "s",
        Goal::MaxValue(90.0),
        "plain `mmdebstrap --variant --include=<pins> <suite> out.tar <host sources>` per image",
    );
    let (mut ours, mut plain) = (vec![], vec![]);
    let mut detail: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in 1..=runs {
        match cold_build_once(sh, engine, spec, &mut detail) {
            Ok((o, p)) => {
                ui::info("Bench", format!("cold build {i}/{runs}: {o:.1} s (plain mmdebstrap {p:.1} s)"));
                ours.push(o);
                plain.push(p);
            }
            Err(e) => {
                row.fail(&e);
                break;
            }
        }
    }
    row.set(&ours, &plain);
    for (k, v) in detail {
        if let Some(s) = Stats::of(&v) {
            row.detail.insert(k, s.median);
        }
    }
    row
}

/// Ours first, then the baseline: a mirror or proxy warmed by ours can only flatter the baseline.
fn cold_build_once(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    detail: &mut BTreeMap<String, Vec<f64>>,
) -> Result<(f64, f64)> {
    let lock = crate::lock::load()?;
    let tmp = tempfile::Builder::new().prefix("trust-sandbox-bench-").tempdir().context("creating a scratch dir")?;
    let builder = debian::Builder { lock: &lock, cache_dir: tmp.path().join("debian"), mirrors: vec![] };
    // The real path: shared base, per-image layers, one archive loaded into the engine; under
    // throwaway names so the sandbox's own images stay as they are.
    let missing: Vec<(&str, String)> =
        spec.image_names().into_iter().map(|i| Ok((i, lock.tag(i)?))).collect::<Result<_>>()?;
    let prefix = format!("{THROWAWAY_REPO}/");
    let t = Instant::now();
    let loaded = images::load_debian(sh, engine, spec, &builder, &missing, false, &prefix);
    let ours = secs_since(t);
    for (image, tag) in &missing {
        let reference = format!("{prefix}{image}:{tag}");
        if let Err(e) = engine.rmi(sh, &reference) {
            ui::warn(format!("removing {reference}: {e:#}"));
        }
    }
    loaded.context("building and loading the images")?;
    detail.entry("build and load, all images".to_string()).or_default().push(ours);

    let sources_file = tmp.path().join("host.sources");
    let host = sources::from_host(Path::new("/etc/apt"), &lock.debian.suite)?;
    std::fs::write(&sources_file, sources::render_deb822(&host)).context("writing apt sources")?;
    let mut plain = 0.0;
    for image in spec.image_names() {
        let out: PathBuf = tmp.path().join(format!("plain-{image}.tar"));
        let t = Instant::now();
        let mut c = Command::new("mmdebstrap");
        c.arg(format!("--variant={}", lock.debian.variant))
            .arg(format!("--include={}", lock.apt_pins(image)?.join(",")))
            .arg(&lock.debian.suite)
            .arg(&out)
            .arg(&sources_file);
        checked(&mut c).with_context(|| format!("plain mmdebstrap for {image}"))?;
        let took = secs_since(t);
        let _ = std::fs::remove_file(&out);
        detail.entry(format!("{image} plain mmdebstrap")).or_default().push(took);
        plain += took;
    }
    Ok((ours, plain))
}

#[derive(Debug, Serialize)]
struct Facts {
    started_at: String,
    runs: usize,
    nproc: usize,
    cpu_model: String,
    mem_total_mb: u64,
    kernel: String,
    engine: EngineKind,
    engine_version: String,
    /// Every installed engine that answers, not just the one measured.
    engine_versions: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mmdebstrap: Option<String>,
}

impl Facts {
    fn collect(sh: &Shell, engine: &Engine, runs: usize, started_at: String, cold_build: bool) -> Facts {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_string();
        let mem_total_mb = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
            .unwrap_or(0);
        let mut engine_versions = BTreeMap::new();
        for kind in [EngineKind::Docker, EngineKind::Podman] {
            if let Ok(v) = Engine::detect(sh, Some(kind)).and_then(|e| e.server_version(sh)) {
                engine_versions.insert(kind.to_string(), v);
            }
        }
        let mmdebstrap = cold_build
            .then(|| Command::new("mmdebstrap").arg("--version").output().ok())
            .flatten()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        Facts {
            started_at,
            runs,
            nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu_model,
            mem_total_mb,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            engine: engine.kind,
            engine_version: engine.server_version(sh).unwrap_or_default(),
            engine_versions,
            mmdebstrap,
        }
    }
}

fn figure(s: &Option<Stats>, unit: &str) -> String {
    match s {
        Some(s) if unit == "MB" => format!("{:.0} / {:.0} {unit}", s.min, s.median),
        Some(s) => format!("{:.2} / {:.2} {unit}", s.min, s.median),
        None => "-".into(),
    }
}

fn render_table(rows: &[Row], facts: &Facts) -> String {
    let mut out = format!(
        "\ntrust-sandbox bench: {} {} on {} CPU(s), {} MB RAM, kernel {}; {} run(s), min / median\n\n",
        facts.engine, facts.engine_version, facts.nproc, facts.mem_total_mb, facts.kernel, facts.runs
    );
    out.push_str(&format!(
        "{:<24} {:>20} {:>20} {:>7}  {:<9} {}\n",
        "MEASUREMENT", "OURS", "BASELINE", "RATIO", "TARGET", "MET"
    ));
    for r in rows {
        let target = match r.target {
            Goal::MaxRatio(x) => format!("<= {x}x"),
            Goal::MaxValue(x) => format!("<= {x} {}", r.unit),
        };
        let met = match (r.met, &r.error) {
            (_, Some(_)) if r.ours.is_none() => "error",
            (Some(true), Some(_)) => "yes (partial)",
            (Some(false), Some(_)) => "no (partial)",
            (Some(true), None) => "yes",
            (Some(false), None) => "no",
            (None, _) => "-",
        };
        out.push_str(&format!(
            "{:<24} {:>20} {:>20} {:>7}  {:<9} {met}\n",
            r.title,
            figure(&r.ours, r.unit),
            figure(&r.baseline, r.unit),
            r.ratio.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into()),
            target,
        ));
    }
    for r in rows.iter().filter(|r| !r.detail.is_empty()) {
        let digits = if r.unit == "s" { 2 } else { 1 };
        let parts: Vec<String> = r.detail.iter().map(|(k, v)| format!("{k} {v:.digits$}")).collect();
        out.push_str(&format!("\n{} ({}, medians): {}\n", r.title, r.unit, parts.join(", ")));
    }
    let mut errors: Vec<(Vec<&str>, &str)> = Vec::new();
    for r in rows {
        let Some(e) = r.error.as_deref() else { continue };
        match errors.iter_mut().find(|(_, seen)| *seen == e) {
            Some((titles, _)) => titles.push(r.title),
            None => errors.push((vec![r.title], e)),
        }
    }
    for (titles, e) in errors {
        out.push_str(&format!("\n{} failed: {e}\n", titles.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_both_engines_units() {
        assert_eq!(parse_size("105.5MiB"), Some(105.5 * 1024.0 * 1024.0));
        assert_eq!(parse_size("106MB"), Some(106e6));
        assert_eq!(parse_size(" 37.32kB "), Some(37.32e3));
        assert_eq!(parse_size("1.5GiB"), Some(1.5 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_size("0B"), Some(0.0));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("MiB"), None);
    }

    #[test]
    fn stats_lines_map_to_services() {
        let text = "x-bench-db\t105.4MiB / 23.54GiB\n/x-bench-registry\t10MB / 25.28GB\n\n";
        let m = parse_stats(text, "x-bench-").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["registry"], 10e6);
        assert!(parse_stats("no tab here", "x-").is_err());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert_eq!(Stats::of(&[4.0, 1.0]).unwrap().min, 1.0);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn targets_judge_ratio_or_value() {
        let mut r = Row::new("k", "t", "s", Goal::MaxRatio(1.3), "");
        r.set(&[1.2], &[1.0]);
        assert_eq!(r.met, Some(true));
        r.set(&[1.4], &[1.0]);
        assert_eq!(r.met, Some(false));
        let mut m = Row::new("k", "t", "MB", Goal::MaxValue(250.0), "");
        m.set(&[240.0], &[]);
        assert_eq!((m.met, m.ratio), (Some(true), None));
    }

    #[test]
    fn placeholders_fill_only_known_names() {
        let vars = vec![("registry".to_string(), "r:5000".to_string())];
        assert_eq!(fill("push {{registry}}/x {{digest}}", &vars), "push r:5000/x {{digest}}");
    }
}
