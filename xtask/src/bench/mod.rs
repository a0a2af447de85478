//! `bench`: what the sandbox's own machinery costs. Every figure is set against a baseline taken
//! in the same run on the same machine (plain engine commands doing the same work), so the ratios
//! mean something on any machine; absolute targets are kept only where a person waits or pays
//! (down, memory, a cold build). Timings are reported here, never asserted in tests.

mod baselines;
mod cold_build;
mod crash;
mod report;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::engine::Engine;
use crate::images::{self, SourceKind};
use crate::sandbox::{lifecycle, name, ports, Sandbox, Selector, UpOptions};
use crate::scenario::{self, Scenario};
use crate::table::Spec;
use crate::ui::{self, Printer};
use crate::util;
use baselines::{guide_plain, Plain};
use cold_build::cold_build_row;
use report::{fail_rows, render_table, Facts, Goal, Row, Stats};

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

/// Runs every measurement `runs` times (and a cold build when asked); fails only when none could
/// be taken at all.
pub fn run(sh: &Shell, sel: &Selector, runs: usize, cold_build: bool) -> Result<Measured> {
    let engine = Engine::detect(sh, sel.engine).context("the bench needs a container engine")?;
    let spec = crate::table::load()?;
    let runs = runs.max(1);
    let bench = Selector { name: format!("{}-bench", sel.name), engine: Some(engine.kind) };
    let started_at = util::now_rfc3339();
    ui::info("Bench", format!("{runs} run(s) on {} with a dedicated sandbox `{}`", engine.kind, bench.name));

    let mut rows = {
        // Declared before the sandbox exists so that every way out of this block destroys it.
        let _teardown = Teardown { sh, name: bench.name.clone() };
        sandbox_rows(sh, &engine, &spec, &bench, runs)
    };
    if cold_build {
        rows.push(cold_build_row(sh, &engine, &spec, runs));
    }

    let facts = Facts::collect(sh, &engine, runs, started_at, cold_build);
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
    let mut crash_row = crash::row();

    let up_opts = match two_free_ports() {
        Ok((server, registry)) => UpOptions {
            // What a plain `up` picks, so the bench runs the images people run.
            images: SourceKind::default_for_up(),
            image_opts: images::Options::default(),
            server_port: Some(server),
            registry_port: Some(registry),
            // What a plain `up` picks: the bench measures the default set-up.
            client: None,
            yes: false,
        },
        Err(e) => {
            let e = e.context("choosing ports for the bench sandbox");
            fail_rows(&mut [&mut up_row, &mut down_row, &mut guide_row, &mut mem_row, &mut crash_row], &e);
            return vec![up_row, down_row, guide_row, mem_row, crash_row];
        }
    };

    // A bench interrupted by a signal never ran its teardown; start from nothing either way.
    if let Err(e) = lifecycle::destroy(sh, &Selector { name: bench.name.clone(), engine: None }) {
        ui::warn(format!("clearing a leftover `{}`: {e:#}", bench.name));
    }
    ui::info("Bench", format!("creating `{}` (not measured)", bench.name));
    let sb = match lifecycle::up(sh, bench, &up_opts) {
        Ok(sb) => sb,
        Err(e) => {
            let e = e.context(format!("creating the bench sandbox `{}`", bench.name));
            fail_rows(&mut [&mut up_row, &mut down_row, &mut guide_row, &mut mem_row, &mut crash_row], &e);
            return vec![up_row, down_row, guide_row, mem_row, crash_row];
        }
    };

    let sb = warm_cycles(sh, engine, spec, bench, &up_opts, sb, runs, &mut up_row, &mut down_row);
    match sb {
        Some(sb) => {
            guide(sh, engine, &sb, runs, &mut guide_row);
            memory(sh, engine, &sb, runs, &mut mem_row);
            let plain = images::ensure(sh, engine, spec, up_opts.images, &up_opts.image_opts)
                .and_then(|refs| lifecycle::run_specs(&sb, &refs))
                .and_then(|specs| Plain::new(sh, engine, &sb, specs));
            match plain {
                Ok(plain) => crash::measure(sh, &plain, bench, &up_opts, sb, runs, &mut crash_row),
                Err(e) => crash_row.fail(&e.context("preparing the plain baseline")),
            }
        }
        None => {
            let e = anyhow::anyhow!("the bench sandbox could not be brought back up after the warm cycles");
            fail_rows(&mut [&mut guide_row, &mut mem_row, &mut crash_row], &e);
        }
    }
    vec![up_row, down_row, guide_row, mem_row, crash_row]
}

fn checked(c: &mut Command) -> Result<()> {
    let out = c.stdin(Stdio::null()).output().with_context(|| format!("running {c:?}"))?;
    if !out.status.success() {
        bail!("{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
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
        .and_then(|refs| lifecycle::run_specs(&sb, &refs))
        .and_then(|specs| Plain::new(sh, engine, &sb, specs))
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
    for i in 1..=runs {
        let cycle = (|| -> Result<Sandbox> {
            let t = Instant::now();
            lifecycle::down(sh, &sb).context("our down")?;
            down_ours.push(secs_since(t));
            let t = Instant::now();
            for (name, secs) in plain.up().context("plain up")? {
                let service = name::part_of(&sb.name, &name).unwrap_or(&name).to_string();
                per_service.entry(format!("plain {service}")).or_default().push(secs);
            }
            up_plain.push(secs_since(t));
            let t = Instant::now();
            plain.down().context("plain down")?;
            down_plain.push(secs_since(t));
            let t = Instant::now();
            let fresh = lifecycle::up(sh, bench, up_opts).context("our up")?;
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
    let _ = lifecycle::down(sh, &sb);
    lifecycle::up(sh, bench, up_opts).map_err(|e| ui::warn(format!("bringing the bench sandbox back: {e:#}"))).ok()
}

/// Alternates which side goes first, so neither always meets the colder client daemon.
fn guide(sh: &Shell, engine: &Engine, sb: &Sandbox, runs: usize, row: &mut Row) {
    let guide = match scenario::find(scenario::GUIDE) {
        Ok(g) => g,
        Err(e) => return row.fail(&e),
    };
    alternate(
        runs,
        row,
        ("guide", "plain", "through the runner", "plain"),
        || {
            let t = Instant::now();
            guide_through_runner(sh, sb, &guide).map(|()| secs_since(t))
        },
        || {
            let t = Instant::now();
            guide_plain(sh, engine, sb, &guide).map(|()| secs_since(t))
        },
    );
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
    row.set(&o, &p);
}

fn guide_through_runner(sh: &Shell, sb: &Sandbox, guide: &Scenario) -> Result<()> {
    // The report says which step failed, if one did.
    let report = crate::session::play_quietly(sh, sb, std::slice::from_ref(guide), Printer::sink())?;
    if report.summary.failed == 0 {
        return Ok(());
    }
    let failed = report.scenarios.iter().flat_map(|s| &s.steps).find(|s| s.status == scenario::StepStatus::Failed);
    match failed {
        Some(s) => bail!("the guide failed at step {} ({}): {}", s.index, s.title, s.message.as_deref().unwrap_or("")),
        None => bail!("the guide failed"),
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
