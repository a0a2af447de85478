//! `bench`: what the sandbox's own machinery costs. Every figure is set against a baseline taken
//! in the same run on the same machine (plain engine commands doing the same work), so the ratios
//! mean something on any machine; absolute targets are kept only where a person waits or pays
//! (down, memory, a cold build). Timings are reported here, never asserted in tests.

mod baselines;
mod cold_build;
mod crash;
mod plain_steps;
mod report;
mod user_tools;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::engine::{Engine, EngineKind};
use crate::images::{self, SourceKind};
use crate::sandbox::{lifecycle, name, ports, Sandbox, Selector, UpOptions};
use crate::scenario::{self, Scenario};
use crate::table::Spec;
use crate::ui::{self, Printer};
use crate::util;
use baselines::Plain;
use cold_build::cold_build_row;
use report::{fail_rows, render_table, Facts, Goal, Row, Stats};
use user_tools::UserTool;

const SCHEMA: &str = "trust-sandbox/bench/v1";
/// Same patience as `up`, so a baseline never fails where the stack would still be waiting.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// What a person writes by hand: `until probe; do sleep 0.1; done`.
const PLAIN_POLL: Duration = Duration::from_millis(100);
/// Outside the `localhost/trust-sandbox/` namespace, so `images list|rm` never see the cold-build copies.
const THROWAWAY_REPO: &str = "localhost/trust-sandbox-bench";

/// What one bench run measured: the JSON document and the table for a terminal.
pub struct Measured {
    pub doc: serde_json::Value,
    pub table: String,
}

/// Runs every measurement `runs` times (the whole catalogue `catalogue_runs` times, and a cold
/// build when asked); fails only when none could be taken at all.
pub fn run(sh: &Shell, sel: &Selector, runs: usize, cold_build: bool, catalogue_runs: usize) -> Result<Measured> {
    let engine = Engine::detect(sh, sel.engine).context("the bench needs a container engine")?;
    let spec = crate::table::load()?;
    let runs = runs.max(1);
    let bench = Selector { name: format!("{}-bench", sel.name), engine: Some(engine.kind) };
    let started = (util::now_rfc3339(), report::loadavg());
    ui::info("Bench", format!("{runs} run(s) on {} with a dedicated sandbox `{}`", engine.kind, bench.name));

    let mut rows = {
        // Declared before the sandbox exists so that every way out of this block destroys it.
        let _teardown = Teardown { sh, name: bench.name.clone() };
        sandbox_rows(sh, &engine, &spec, &bench, runs, catalogue_runs)
    };
    if cold_build {
        rows.push(cold_build_row(sh, &engine, &spec, runs));
    }

    let facts = Facts::collect(sh, &engine, runs, started, cold_build);
    let doc = serde_json::json!({ "schema": SCHEMA, "facts": facts, "measurements": rows });
    if rows.iter().all(|r| r.ours.is_none()) {
        bail!("no measurement could be taken (see the errors above)");
    }
    Ok(Measured { doc, table: render_table(&rows, &facts) })
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
        if let Err(e) = lifecycle::destroy(self.sh, &sel) {
            ui::warn(format!(
                "destroying the bench sandbox failed: {e:#}; run `cargo xtask sandbox --name {} destroy`",
                self.name
            ));
        }
    }
}

fn secs_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
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

/// The rows that need the dedicated sandbox; each failure is recorded in its row.
struct SandboxRows {
    up: Row,
    up_tool: Row,
    down: Row,
    down_tool: Row,
    guide: Row,
    catalogue: Row,
    memory: Row,
    crash: Row,
}

impl SandboxRows {
    fn new(engine: EngineKind) -> SandboxRows {
        let (up_tool, down_tool) = match engine {
            EngineKind::Docker => ("warm up vs Compose v2", "down vs Compose v2"),
            EngineKind::Podman => ("warm up vs kube play", "down vs kube play"),
        };
        SandboxRows {
            up: Row::new(
                "warm_up",
                "warm up -> all ready",
                "s",
                Goal::MaxRatio(1.1),
                "the same `run` argv via the plain CLI in the same waves, each followed by an until-ready loop",
            ),
            up_tool: Row::new("warm_up_tool", up_tool, "s", Goal::MaxRatio(1.0), UserTool::describe(engine)),
            down: Row::new("down", "down", "s", Goal::MaxRatio(1.1), "`rm -f <all>` then `network rm`"),
            down_tool: Row::new("down_tool", down_tool, "s", Goal::MaxRatio(1.1), UserTool::describe(engine)),
            guide: Row::new(
                "guide",
                "guide scenario",
                "s",
                Goal::MaxRatio(1.3),
                "each step's script via plain `exec`, captures by regex, own run id",
            ),
            catalogue: Row::new(
                "catalogue",
                "all scenarios",
                "s",
                Goal::MaxRatio(1.3),
                "every scenario's steps via plain `exec` / `stop` / `start` and until-ready loops",
            ),
            memory: Row::new("memory", "stack memory", "MB", Goal::MaxValue(250.0), "none (absolute target)"),
            crash: crash::row(),
        }
    }

    fn all(&mut self) -> [&mut Row; 8] {
        [
            &mut self.up,
            &mut self.up_tool,
            &mut self.down,
            &mut self.down_tool,
            &mut self.guide,
            &mut self.catalogue,
            &mut self.memory,
            &mut self.crash,
        ]
    }

    fn fail_all(mut self, e: &anyhow::Error) -> Vec<Row> {
        fail_rows(&mut self.all(), e);
        self.into_vec()
    }

    fn into_vec(self) -> Vec<Row> {
        vec![self.up, self.up_tool, self.down, self.down_tool, self.guide, self.catalogue, self.memory, self.crash]
    }
}

fn sandbox_rows(
    sh: &Shell,
    engine: &Engine,
    spec: &Spec,
    bench: &Selector,
    runs: usize,
    catalogue_runs: usize,
) -> Vec<Row> {
    let mut rows = SandboxRows::new(engine.kind);
    let up_opts = match two_free_ports() {
        Ok((server, registry)) => UpOptions {
            // What a plain `up` picks, so the bench runs the images people run.
            images: SourceKind::default_for_up(),
            image_opts: images::Options::default(),
            server_port: Some(server),
            registry_port: Some(registry),
            // What a plain `up` picks: the bench measures the default set-up.
            client: None,
            client_cli: None,
            registry: Default::default(),
            yes: false,
        },
        Err(e) => return rows.fail_all(&e.context("choosing ports for the bench sandbox")),
    };

    // A bench interrupted by a signal never ran its teardown; start from nothing either way.
    if let Err(e) = lifecycle::destroy(sh, &Selector { name: bench.name.clone(), engine: None }) {
        ui::warn(format!("clearing a leftover `{}`: {e:#}", bench.name));
    }
    if let Err(e) = UserTool::sweep(sh, engine, &bench.name) {
        ui::warn(format!("clearing what an earlier bench's exported stack left: {e:#}"));
    }
    ui::info("Bench", format!("creating `{}` (not measured)", bench.name));
    let sb = match lifecycle::up(sh, bench, &up_opts) {
        Ok(sb) => sb,
        Err(e) => return rows.fail_all(&e.context(format!("creating the bench sandbox `{}`", bench.name))),
    };
    let plain = match images::ensure(sh, engine, spec, up_opts.images, &up_opts.image_opts)
        .and_then(|refs| lifecycle::run_specs(&sb, &refs))
        .and_then(|specs| Plain::new(sh, engine, &sb, specs))
    {
        Ok(p) => p,
        Err(e) => return rows.fail_all(&e.context("preparing the plain baseline")),
    };
    // The user's tool runs the export of this very sandbox; it is made while the sandbox runs.
    let tool = UserTool::export(sh, engine, &sb).context("exporting the bench sandbox for the user's tool");
    if let Err(e) = &tool {
        fail_rows(&mut [&mut rows.up_tool, &mut rows.down_tool], e);
    }
    let tool = tool.ok();

    let sb = warm_cycles(sh, bench, &up_opts, sb, &plain, tool.as_ref(), runs, &mut rows);
    if let Some(t) = &tool {
        if let Err(e) = t.remove(sh) {
            ui::warn(format!("removing the user's tool's stack: {e:#}"));
        }
    }
    match sb {
        Some(sb) => {
            scenarios(sh, &sb, &plain, &[scenario::GUIDE], runs, &mut rows.guide);
            // After the guide (every service exercised, the client daemon holding images as in
            // use), before the catalogue fills the DB's buffer pool with its scenarios' data.
            memory(sh, engine, &sb, runs, &mut rows.memory);
            if catalogue_runs > 0 {
                let all = scenario::names();
                scenarios(sh, &sb, &plain, &all, catalogue_runs, &mut rows.catalogue);
            }
            // Last: it kills the stack (and leaves it up again for the teardown).
            crash::measure(sh, &plain, bench, &up_opts, sb, runs, &mut rows.crash);
        }
        None => {
            let e = anyhow::anyhow!("the bench sandbox could not be brought back up after the warm cycles");
            fail_rows(&mut [&mut rows.guide, &mut rows.catalogue, &mut rows.memory, &mut rows.crash], &e);
        }
    }
    rows.into_vec()
}

fn checked(c: &mut Command) -> Result<()> {
    let out = c.stdin(Stdio::null()).output().with_context(|| format!("running {c:?}"))?;
    if !out.status.success() {
        bail!("{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Samples of one warm cycle's four ups and three downs.
#[derive(Default)]
struct Cycles {
    up_ours: Vec<f64>,
    up_plain: Vec<f64>,
    up_tool: Vec<f64>,
    down_ours: Vec<f64>,
    down_plain: Vec<f64>,
    down_tool: Vec<f64>,
    per_service: BTreeMap<String, Vec<f64>>,
}

/// Each cycle times, in this order: our down (of our stack), the plain up and down, the user's
/// tool's up and down, our up. Every down thus removes an all-ready stack and every up starts
/// from a down state with its volumes kept. Returns the sandbox if it is up at the end.
#[allow(clippy::too_many_arguments)]
fn warm_cycles(
    sh: &Shell,
    bench: &Selector,
    up_opts: &UpOptions,
    mut sb: Sandbox,
    plain: &Plain<'_>,
    mut tool: Option<&UserTool<'_>>,
    runs: usize,
    rows: &mut SandboxRows,
) -> Option<Sandbox> {
    let mut c = Cycles::default();
    if let Some(t) = tool {
        // Its first start initialises its own volumes (the DB's too): not a warm start, not measured.
        let first = lifecycle::down(sh, &sb).and_then(|_| t.initialise(sh));
        let back = lifecycle::up(sh, bench, up_opts);
        if let Err(e) = first {
            fail_rows(&mut [&mut rows.up_tool, &mut rows.down_tool], &e.context("starting the user's tool once"));
            tool = None;
        }
        match back {
            Ok(fresh) => sb = fresh,
            Err(e) => {
                let e = e.context("bringing the bench sandbox back after the tool's first start");
                fail_rows(&mut [&mut rows.up, &mut rows.down, &mut rows.up_tool, &mut rows.down_tool], &e);
                return None;
            }
        }
    }
    for i in 1..=runs {
        let cycle = (|| -> Result<Sandbox> {
            let t = Instant::now();
            lifecycle::down(sh, &sb).context("our down")?;
            c.down_ours.push(secs_since(t));
            let t = Instant::now();
            for (name, secs) in plain.up().context("plain up")? {
                let service = name::part_of(&sb.name, &name).unwrap_or(&name).to_string();
                c.per_service.entry(format!("plain {service}")).or_default().push(secs);
            }
            c.up_plain.push(secs_since(t));
            let t = Instant::now();
            plain.down().context("plain down")?;
            c.down_plain.push(secs_since(t));
            if let Some(tool) = tool {
                let t = Instant::now();
                tool.up(sh).context("the user's tool's up")?;
                c.up_tool.push(secs_since(t));
                let t = Instant::now();
                tool.down(sh).context("the user's tool's down")?;
                c.down_tool.push(secs_since(t));
            }
            let t = Instant::now();
            let fresh = lifecycle::up(sh, bench, up_opts).context("our up")?;
            c.up_ours.push(secs_since(t));
            Ok(fresh)
        })();
        match cycle {
            Ok(fresh) => {
                sb = fresh;
                let at = |v: &[f64]| v.get(i - 1).map(|x| format!("{x:.2} s")).unwrap_or_else(|| "-".into());
                ui::info(
                    "Bench",
                    format!(
                        "warm cycle {i}/{runs}: up {} (plain {}, tool {}), down {} (plain {}, tool {})",
                        at(&c.up_ours),
                        at(&c.up_plain),
                        at(&c.up_tool),
                        at(&c.down_ours),
                        at(&c.down_plain),
                        at(&c.down_tool)
                    ),
                );
            }
            Err(e) => {
                fail_rows(&mut [&mut rows.up, &mut rows.down, &mut rows.up_tool, &mut rows.down_tool], &e);
                break;
            }
        }
    }
    rows.up.set(&c.up_ours, &c.up_plain);
    rows.down.set(&c.down_ours, &c.down_plain);
    if tool.is_some() {
        rows.up_tool.set(&c.up_ours, &c.up_tool);
        rows.down_tool.set(&c.down_ours, &c.down_tool);
    }
    // Ours per service is on stderr (`up` prints each service's time); the plain side is only here.
    for (k, v) in c.per_service {
        if let Some(s) = Stats::of(&v) {
            rows.up.detail.insert(k, s.median);
        }
    }
    if rows.up.error.is_none() {
        return Some(sb);
    }
    // Whatever half-started stack the failure left, the later measurements want ours, all ready.
    let _ = plain.down();
    if let Some(t) = tool {
        let _ = t.down(sh);
    }
    let _ = lifecycle::down(sh, &sb);
    lifecycle::up(sh, bench, up_opts).map_err(|e| ui::warn(format!("bringing the bench sandbox back: {e:#}"))).ok()
}

/// The named scenarios through the runner and as plain commands, one scenario at a time with
/// the order alternating (by run and by scenario), so that neither side always meets the colder
/// client daemon or the registry and client state the other left. Ours is the runner's whole run
/// for one scenario, and in the catalogue each scenario's time in the runner's report (what
/// `scenario run --all` records), the pass's total their sum.
fn scenarios(sh: &Shell, sb: &Sandbox, plain: &Plain<'_>, names: &[&str], runs: usize, row: &mut Row) {
    let list: Result<Vec<Scenario>> = names.iter().map(|n| scenario::find(n)).collect();
    let list = match list {
        Ok(l) => l,
        Err(e) => return row.fail(&e),
    };
    let (mut ours, mut plain_secs) = (vec![], vec![]);
    let mut each: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    'runs: for i in 1..=runs {
        let (mut ours_pass, mut plain_pass) = (0.0, 0.0);
        for (j, s) in list.iter().enumerate() {
            for ours_turn in if (i + j) % 2 == 1 { [true, false] } else { [false, true] } {
                let t = Instant::now();
                let took = if ours_turn {
                    // One scenario: the whole run as a person waits for it (`play`). In the
                    // catalogue: each scenario's own time, as `run --all` pays the rest once.
                    let whole = list.len() == 1;
                    through_runner(sh, sb, std::slice::from_ref(s)).map(|r| {
                        if whole {
                            secs_since(t)
                        } else {
                            r.scenarios[0].duration_ms as f64 / 1000.0
                        }
                    })
                } else {
                    plain_steps::scenario_plain(sh, sb, plain, s).map(|()| secs_since(t))
                };
                match took {
                    Ok(secs) => {
                        let side = if ours_turn { "ours" } else { "plain" };
                        *(if ours_turn { &mut ours_pass } else { &mut plain_pass }) += secs;
                        if list.len() > 1 {
                            each.entry(format!("{} {side}", s.name)).or_default().push(secs);
                        }
                    }
                    Err(e) => {
                        row.fail(&e.context(if ours_turn { "through the runner" } else { "plain" }));
                        break 'runs;
                    }
                }
            }
        }
        ours.push(ours_pass);
        plain_secs.push(plain_pass);
        ui::info("Bench", format!("{} {i}/{runs}: {ours_pass:.2} s (plain {plain_pass:.2} s)", row.title));
    }
    row.set(&ours, &plain_secs);
    for (k, v) in each {
        if let Some(s) = Stats::of(&v) {
            row.detail.insert(k, s.median);
        }
    }
}

/// Runs our side and the baseline `runs` times each, alternating which goes first so that
/// neither always meets the colder machine; each returns its seconds. The first failure ends the
/// measurement and is recorded in the row with its side's context. `labels`: what the progress
/// line calls the row and the baseline, then each side's context for a failure.
fn alternate(
    runs: usize,
    row: &mut Row,
    labels: (&str, &str, &'static str, &'static str),
    mut ours: impl FnMut() -> Result<f64>,
    mut plain: impl FnMut() -> Result<f64>,
) {
    let (what, baseline, ours_ctx, plain_ctx) = labels;
    let (mut o, mut p) = (vec![], vec![]);
    'runs: for i in 1..=runs {
        for ours_turn in if i % 2 == 1 { [true, false] } else { [false, true] } {
            match if ours_turn { ours() } else { plain() } {
                Ok(secs) if ours_turn => o.push(secs),
                Ok(secs) => p.push(secs),
                Err(e) => {
                    row.fail(&e.context(if ours_turn { ours_ctx } else { plain_ctx }));
                    break 'runs;
                }
            }
        }
        if let (Some(a), Some(b)) = (o.last(), p.last()) {
            ui::info("Bench", format!("{what} {i}/{runs}: {a:.2} s ({baseline} {b:.2} s)"));
        }
    }
    row.set(&o, &p)
}

fn through_runner(sh: &Shell, sb: &Sandbox, list: &[Scenario]) -> Result<scenario::Report> {
    // The report says which step failed, if one did.
    let report = crate::session::play_quietly(sh, sb, list, Printer::sink())?;
    if report.summary.failed == 0 {
        return Ok(report);
    }
    let failed = report
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().map(move |st| (&s.name, st)))
        .find(|(_, s)| s.status == scenario::StepStatus::Failed);
    match failed {
        Some((name, s)) => {
            bail!("{name} failed at step {} ({}): {}", s.index, s.title, s.message.as_deref().unwrap_or(""))
        }
        None => bail!("a scenario failed"),
    }
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

/// `stats` lines `<name>\t<used> / <limit>` into service -> bytes, for the containers of sandbox
/// `sandbox` asked for.
fn parse_stats(text: &str, sandbox: &str) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, usage) = line.split_once('\t').with_context(|| format!("unexpected stats line {line:?}"))?;
        let used = usage.split('/').next().unwrap_or_default();
        let bytes = parse_size(used).with_context(|| format!("unreadable memory figure {used:?}"))?;
        let name = name.trim().trim_start_matches('/');
        out.insert(name::part_of(sandbox, name).unwrap_or(name).to_string(), bytes);
    }
    Ok(out)
}

/// Memory as the engine accounts it (the containers' cgroups), after the guide has exercised
/// every service, so the client's daemon holds images as it does in use.
fn memory(sh: &Shell, engine: &Engine, sb: &Sandbox, runs: usize, row: &mut Row) {
    let names: Vec<String> = sb.spec.services.iter().map(|s| sb.container(&s.name)).collect();
    let mut totals = Vec::new();
    let mut per_service: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        let sample = (|| -> Result<BTreeMap<String, f64>> {
            let mut args = vec!["stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"];
            args.extend(names.iter().map(String::as_str));
            let out = engine.checked(sh, &args)?;
            let parsed = parse_stats(&out, &sb.name)?;
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
        let m = parse_stats(text, "x-bench").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["registry"], 10e6);
        assert!(parse_stats("no tab here", "x").is_err());
    }
}
