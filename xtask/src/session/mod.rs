//! A session: scenarios played against a running sandbox, from the first step to the reports,
//! however the run ends. The commands (`scenario run`, `play`) and `bench` come here; `scenario/`
//! knows how to play steps, not how a run starts, ends or reports, and nothing here reads the
//! command line (the commands turn their flags into [`Options`]).
//!
//! Every way a run ends takes one path: the last step, a failed step, a quit at the `--step`
//! prompt, or a signal (SIGINT once or again, SIGTERM, SIGHUP, a parent `timeout`; see
//! `crate::signals`). On a signal the running step's processes are killed in their container, no
//! further step or scenario starts, the scenario's own containers are removed, the reports so far
//! are written and marked `interrupted`, a message names the signal and what was cleaned up, and
//! the exit code is 128 + the signal's number.

mod prompt_input;
pub mod reports;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::sandbox::Sandbox;
use crate::scenario::executor::{self, SandboxExecutor};
use crate::scenario::{Report, Runner, Scenario, StepMode};
use crate::signals;
use crate::step::mask::Masker;
use crate::ui::{self, Printer};

pub use reports::check_paths;

/// How a session runs and where its reports go.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Pause before each step, explain it, and wait for Enter.
    pub step: bool,
    /// Keep running a scenario's later steps after one fails.
    pub keep_going: bool,
    /// Where the JSON report goes: `-` for stdout, or a file.
    pub json: Option<String>,
    /// Where the JUnit XML report goes.
    pub junit: Option<PathBuf>,
    /// Where the HTML page goes (the runner then also keeps the steps' trust snapshots).
    pub html: Option<PathBuf>,
}

/// What a signal makes the run do, said when it comes.
const STOPPING: &str =
    "killing the running step's processes, removing the scenario's containers, then writing the reports so far";

/// Plays `scenarios` with the progress on stderr, long steps streamed, signals caught, and the
/// reports written; the exit code says whether all passed, or which signal ended the run.
pub fn run(sh: &Shell, sb: &Sandbox, scenarios: &[Scenario], opts: &Options) -> Result<ExitCode> {
    check_paths(opts)?;
    signals::catch(STOPPING)?;
    let played = play(sh, sb, scenarios, opts, ui::printer(), true);
    let signal = signals::caught();
    let (mut report, teardown) = match (played, signal) {
        (Ok(played), _) => played,
        // Stopped before the first step (a requirement's probe, the secrets): nothing ran.
        (Err(e), Some(sig)) => {
            ui::warn(format!(
                "interrupted by {sig} before the first step ({e:#}); nothing ran (exit {})",
                sig.exit_code()
            ));
            return Ok(ExitCode::from(sig.exit_code()));
        }
        (Err(e), None) => return Err(e),
    };
    report.interrupted = signal.map(|s| s.name().to_string());
    let masker = Masker::new(&sb.secrets()?.values());
    let written = reports::write(&report, opts, &masker)?;
    if let Some(sig) = signal {
        let mut done = teardown;
        if done.is_empty() {
            done.push("no step was running in a container".into());
        }
        let reports = if written.is_empty() {
            String::new()
        } else {
            format!("; the report so far is in {}, marked interrupted", written.join(" and "))
        };
        ui::warn(format!("interrupted by {sig}: {}{reports} (exit {})", done.join("; "), sig.exit_code()));
        return Ok(ExitCode::from(sig.exit_code()));
    }
    Ok(if report.summary.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Plays `scenarios` with the progress sent to `printer` and returns the report: what `bench`
/// times (it silences the progress, streams nothing, and keeps the default signal actions).
pub fn play_quietly(sh: &Shell, sb: &Sandbox, scenarios: &[Scenario], printer: Printer) -> Result<Report> {
    play(sh, sb, scenarios, &Options::default(), printer, false).map(|(report, _)| report)
}

/// The run itself; returns the report and what a signal made the executor clean up.
fn play(
    sh: &Shell,
    sb: &Sandbox,
    scenarios: &[Scenario],
    opts: &Options,
    printer: Printer,
    stream: bool,
) -> Result<(Report, Vec<String>)> {
    for s in scenarios {
        executor::check_requirements(sh, sb, s)?;
    }
    let exec = SandboxExecutor::new(sh, sb, stream)?;
    let mut runner = Runner::new(exec, runner_options(sh, sb, opts, printer)?);
    let report = runner.run_all(scenarios);
    Ok((report, runner.into_executor().teardown))
}

fn runner_options(sh: &Shell, sb: &Sandbox, opts: &Options, printer: Printer) -> Result<crate::scenario::Options> {
    let step = opts.step.then(|| StepMode {
        input: Box::new(std::io::BufReader::new(prompt_input::PromptInput::stdin())),
        prompt: Box::new(std::io::stderr()),
    });
    if opts.step && !std::io::stdin().is_terminal() {
        ui::info("Step mode", "reading answers from standard input (Enter runs, s skips, q quits)");
    }
    let registry = sb.client_registry()?;
    Ok(crate::scenario::Options {
        keep_going: opts.keep_going,
        secrets: sb.secrets()?.values(),
        step,
        engine: format!("{} {}", sb.engine.kind, sb.engine.server_version(sh).unwrap_or_default()),
        printer,
        registry_url: sb.registry_url(&registry),
        registry,
        server: sb.spec.server_url()?,
        trust_snapshots: opts.html.is_some(),
        ..Default::default()
    })
}
