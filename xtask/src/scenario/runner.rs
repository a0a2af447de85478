//! Plays scenarios step by step through an [`Executor`].

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::ui::{Printer, Style};

use super::expect::{self, Failure, FailureKind};
use super::interpolate::{self, Vars};
use super::model::{Action, Capture, Expect, Outcome, Scenario, Step, Target};
use super::report::{Report, ScenarioReport, StepReport, StepStatus, TrustChange, TrustShot};
use crate::trust::view::TrustView;

/// Lines of output kept in reports and shown under a failed step.
const TAIL_LINES: usize = 15;

/// What one command produced: the same type the engine returns.
pub use crate::engine::Output;
use resolve::resolve;
use step_mode::Answer;
pub use step_mode::StepMode;

/// Runs commands in the sandbox. `Err` means the command could not be run at
/// all (engine gone, container missing), as opposed to a command that failed.
pub trait Executor {
    fn run(
        &mut self,
        on: &Target,
        identity: Option<&str>,
        script: &str,
        env: &[(String, String)],
        clock: Option<&str>,
    ) -> Result<Output>;

    fn action(&mut self, action: &Action) -> Result<Output>;

    /// Before a scenario's first step: start what it declares (its `containers`). An `Err`
    /// leaves every step not run; `end` is called all the same.
    fn begin(&mut self, _scenario: &Scenario) -> Result<()> {
        Ok(())
    }

    /// After a scenario's last step, whatever happened: remove what `begin` started.
    fn end(&mut self, _scenario: &Scenario) -> Result<()> {
        Ok(())
    }

    /// The time limit of the next `run` (the step's `timeout`); an executor that can kill a
    /// step's processes enforces it, others may ignore it.
    fn set_time_limit(&mut self, _limit: Duration) {}

    /// The trust data of `repository` (the server's, or `identity`'s cache), for the trees an
    /// HTML report draws around a step with `trust`.
    fn trust(&mut self, _repository: &str, _identity: Option<&str>) -> Result<TrustView> {
        anyhow::bail!("this executor cannot read trust data")
    }

    /// Why the run must stop now (`interrupted by SIGTERM`), if it must: no further step or
    /// scenario starts, and the current scenario's `end` still runs.
    fn interrupted(&self) -> Option<String> {
        None
    }
}

pub struct Options {
    /// Run later steps after a failure. Off by default because a scenario's
    /// steps build on each other, so later failures would only be noise.
    pub keep_going: bool,
    /// Values (passphrases) replaced by `***` in everything printed or reported.
    pub secrets: Vec<String>,
    pub step: Option<StepMode>,
    /// Human-readable progress: the CLI's printer on stderr, a sink in `bench`.
    pub printer: Printer,
    /// Recorded in the report.
    pub engine: String,
    /// `None` picks a fresh random one.
    pub run_id: Option<String>,
    /// What `{{registry}}` stands for: the registry's `host:port` from the service table.
    pub registry: String,
    /// What `{{registry_url}}` stands for: `http://` or `https://` (a sandbox made with
    /// `--registry-tls`) and the registry's `host:port`, for steps that ask the registry's API.
    pub registry_url: String,
    /// What `{{server}}` stands for: the notary server's URL from the service table.
    pub server: String,
    /// Look at the trust data of each step's `trust` repository before and after it (for an
    /// HTML report); off, `trust` is ignored and costs nothing.
    pub trust_snapshots: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            keep_going: false,
            secrets: Vec::new(),
            step: None,
            printer: Printer::stderr(),
            engine: String::new(),
            run_id: None,
            registry: String::new(),
            registry_url: String::new(),
            server: String::new(),
            trust_snapshots: false,
        }
    }
}

/// A fresh 8-hex-digit id, to keep two runs' repositories and nonces apart.
pub fn new_run_id() -> String {
    crate::util::random_hex(4).expect("the kernel's random source is readable")
}

pub use crate::step::mask::Masker;

impl Masker {
    fn mask_all(&self, v: &[String]) -> Vec<String> {
        v.iter().map(|s| self.mask(s)).collect()
    }

    fn mask_failure(&self, f: &Failure) -> Failure {
        Failure { kind: f.kind, message: self.mask(&f.message), context: self.mask_all(&f.context) }
    }
}

pub struct Runner<E: Executor> {
    exec: E,
    opts: Options,
    masker: Masker,
    run_id: String,
    started_at: String,
    aborted: bool,
    /// Why the run stopped early, once the executor said it must.
    interrupted: Option<String>,
}

impl<E: Executor> Runner<E> {
    pub fn new(exec: E, mut opts: Options) -> Runner<E> {
        let run_id = opts.run_id.take().unwrap_or_else(new_run_id);
        Runner {
            exec,
            masker: Masker::new(&opts.secrets),
            opts,
            run_id,
            started_at: crate::util::now_rfc3339(),
            aborted: false,
            interrupted: None,
        }
    }

    #[cfg(test)]
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// True once the person at the --step prompt quit.
    #[cfg(test)]
    pub fn aborted(&self) -> bool {
        self.aborted
    }

    pub fn into_executor(self) -> E {
        self.exec
    }

    /// Records (once) and returns why the run must stop, if the executor says it must.
    fn check_interrupted(&mut self) -> Option<String> {
        if self.interrupted.is_none() {
            self.interrupted = self.exec.interrupted();
        }
        self.interrupted.clone()
    }

    /// The values `{{registry}}`, `{{registry_url}}`, `{{server}}` and `{{run_id}}` stand for.
    pub fn builtins(&self) -> Vars {
        let mut vars = Vars::new();
        vars.insert("registry".into(), self.opts.registry.clone());
        vars.insert("registry_url".into(), self.opts.registry_url.clone());
        vars.insert("server".into(), self.opts.server.clone());
        vars.insert("run_id".into(), self.run_id.clone());
        vars
    }

    /// Plays every scenario and prints the closing `N passed, M failed` line.
    /// After a quit at the prompt, the remaining scenarios are reported as not run.
    pub fn run_all(&mut self, scenarios: &[Scenario]) -> Report {
        let reports: Vec<ScenarioReport> = scenarios.iter().map(|s| self.run(s)).collect();
        let report = self.report(reports);
        self.log_line(&report.summary.line());
        report
    }

    /// Wraps scenario reports into the full report.
    pub fn report(&self, scenarios: Vec<ScenarioReport>) -> Report {
        Report::new(&self.opts.engine, &self.started_at, &self.run_id, scenarios)
    }

    /// Plays one scenario and prints its `name: N passed, M failed` line.
    pub fn run(&mut self, scenario: &Scenario) -> ScenarioReport {
        let started = Instant::now();
        let total = scenario.steps.len();
        let mut vars = self.builtins();
        let mut steps = Vec::with_capacity(total);
        let mut stop_note: Option<String> = None;

        let cut_before = self.check_interrupted();
        if self.aborted {
            stop_note = Some("not run: the run was aborted".into());
        } else if let Some(why) = &cut_before {
            stop_note = Some(format!("not run: {why}"));
        } else {
            let header = self.paint(&format!("== {}: {}", scenario.name, scenario.summary), BOLD);
            self.log_line(&header);
            if let Some(step_mode) = &mut self.opts.step {
                let text = indent(&self.masker.mask(scenario.description.trim()), "   ");
                let _ = writeln!(step_mode.prompt, "{text}");
            }
        }

        let begun = stop_note.is_none();
        if begun {
            if let Err(e) = self.exec.begin(scenario) {
                let message = self.masker.mask(&format!("{e:#}"));
                let line = format!("  {} could not start the scenario's containers: {message}", self.paint("✗", RED));
                self.log_line(&line);
                stop_note = Some(format!("not run: could not start the scenario's containers: {message}"));
            }
        }

        for (i, step) in scenario.steps.iter().enumerate() {
            let index = i + 1;
            if stop_note.is_none() {
                stop_note = self.check_interrupted().map(|why| format!("not run: {why}"));
            }
            if let Some(note) = &stop_note {
                let report = self.not_run(index, step, &vars, note);
                if !self.aborted && self.interrupted.is_none() {
                    let line = format!("[{index}/{total}] {} — not run", report.title);
                    let line = self.paint(&line, DIM);
                    self.log_line(&line);
                }
                steps.push(report);
                continue;
            }
            let report = self.run_step(index, total, step, &mut vars);
            if self.aborted {
                stop_note = Some("not run: aborted at the prompt".into());
            } else if let Some(why) = self.check_interrupted() {
                stop_note = Some(format!("not run: {why}"));
            } else if report.status == StepStatus::Failed && !self.opts.keep_going {
                stop_note = Some(format!("not run: step {index} failed"));
            }
            steps.push(report);
        }

        if begun {
            if let Err(e) = self.exec.end(scenario) {
                let line = format!("  warning: cleaning up after {}: {e:#}", scenario.name);
                let line = self.paint(&line, YELLOW);
                self.log_line(&line);
            }
        }

        let passed = steps.iter().all(|s| matches!(s.status, StepStatus::Passed | StepStatus::Skipped));
        let report = ScenarioReport {
            name: scenario.name.clone(),
            summary: scenario.summary.clone(),
            passed,
            aborted: self.aborted,
            interrupted: self.interrupted.is_some(),
            duration_ms: millis(started.elapsed()),
            steps,
        };
        // A scenario the interruption kept from starting says nothing (the closing message does).
        if cut_before.is_none() {
            // The time is the scenario's `duration_ms` in the JSON report and its suite's `time` in JUnit.
            let line = format!("{} in {:.1} s", report.summary_line(), report.duration_ms as f64 / 1000.0);
            let line = self.paint(&line, if passed { GREEN } else { RED });
            self.log_line(&line);
        }
        report
    }

    fn run_step(&mut self, index: usize, total: usize, step: &Step, vars: &mut Vars) -> StepReport {
        let heading = format!("[{index}/{total}] {}", step.title);
        let mut report = self.base_report(index, step, vars);

        let resolved = match resolve(step, vars) {
            Ok(r) => r,
            Err(e) => {
                let f = Failure::new(FailureKind::Interpolation, format!("{e:#}"));
                self.log_heading(&heading, step, &report);
                return self.finish_failed(report, vec![f], None, Duration::ZERO);
            }
        };

        if self.opts.step.is_some() {
            match self.ask(&heading, step, &report) {
                Answer::Run => {}
                Answer::Skip => {
                    let line = self.paint("  - skipped", YELLOW);
                    self.log_line(&line);
                    report.status = StepStatus::Skipped;
                    report.note = Some("skipped at the prompt".into());
                    return report;
                }
                Answer::Quit => {
                    self.aborted = true;
                    self.log_line("  - aborted: this and the remaining steps are not run");
                    report.note = Some("not run: aborted at the prompt".into());
                    return report;
                }
            }
        } else {
            self.log_heading(&heading, step, &report);
        }

        let trust = self.trust_target(step, vars);
        let before = trust.as_ref().map(|(repo, id)| TrustShot::of(self.exec.trust(repo, id.as_deref())));
        let started = Instant::now();
        let result = match &step.action {
            Some(action) => self.exec.action(action),
            None => {
                self.exec.set_time_limit(step.time_limit());
                self.exec.run(
                    &step.on,
                    step.identity.as_deref(),
                    &resolved.command,
                    &resolved.env,
                    step.clock.as_deref(),
                )
            }
        };
        let elapsed = started.elapsed();
        report.duration_ms = millis(elapsed);
        if let (Some((repository, identity)), Some(before)) = (trust, before) {
            let after = TrustShot::of(self.exec.trust(&repository, identity.as_deref()));
            report.trust = Some(TrustChange { repository, identity, before, after });
        }

        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let f = Failure::new(FailureKind::Executor, format!("could not run the step: {e:#}"));
                return self.finish_failed(report, vec![f], None, elapsed);
            }
        };

        let mut failures = expect::check(&resolved.expect, &out);
        let (captured, capture_failures) = expect::capture(&resolved.capture, &out);
        failures.extend(capture_failures);
        for (k, v) in &captured {
            report.captures.insert(k.clone(), self.masker.mask(v));
        }
        vars.extend(captured);
        report.exit_code = Some(out.code);
        report.output_tail = self.masker.mask_all(&expect::tail(&out, TAIL_LINES));

        if failures.is_empty() {
            report.status = StepStatus::Passed;
            let verdict = match (resolved.expect.exit_code, resolved.expect.effective_outcome()) {
                (Some(c), _) if c != 0 => format!("exited {c} as expected"),
                (_, Outcome::Failure) => format!("failed as expected, exit {}", out.code),
                (_, Outcome::Any) => format!("finished, exit {}", out.code),
                _ => "succeeded as expected".to_string(),
            };
            let line = format!("  {} {verdict} ({})", self.paint("✓", GREEN), secs(elapsed));
            self.log_line(&line);
            if self.opts.step.is_some() {
                self.echo_output(&out);
            }
            report
        } else {
            self.finish_failed(report, failures, Some(&out), elapsed)
        }
    }

    /// The repository (and identity) whose trust tree this step's report carries, if snapshots
    /// are wanted.
    fn trust_target(&self, step: &Step, vars: &Vars) -> Option<(String, Option<String>)> {
        let look = step.trust.as_ref().filter(|_| self.opts.trust_snapshots)?;
        let repo = look.repository();
        let repo = interpolate::interpolate(repo, vars).unwrap_or_else(|_| repo.to_string());
        Some((repo, look.identity().map(String::from)))
    }

    fn finish_failed(
        &mut self,
        mut report: StepReport,
        failures: Vec<Failure>,
        out: Option<&Output>,
        elapsed: Duration,
    ) -> StepReport {
        let failures: Vec<Failure> = failures.iter().map(|f| self.masker.mask_failure(f)).collect();
        let code = out.map(|o| o.code);
        let headline = headline(&report.expected, &failures, code);
        let line = format!("  {} {headline} ({})", self.paint("✗", RED), secs(elapsed));
        self.log_line(&line);
        // The headline already says what the first failure (or the exit
        // status) was; list only the rest.
        let exit_in_headline = code.is_some() && failures.iter().any(|f| f.kind == FailureKind::ExitStatus);
        let rest: Vec<String> = if exit_in_headline {
            failures.iter().filter(|f| f.kind != FailureKind::ExitStatus).map(|f| f.message.clone()).collect()
        } else {
            failures.iter().skip(1).map(|f| f.message.clone()).collect()
        };
        for message in rest {
            self.log_line(&format!("    · {message}"));
        }
        let context: Vec<&String> = failures.iter().flat_map(|f| &f.context).collect();
        if !context.is_empty() {
            for line in context {
                self.log_line(&format!("    │ {line}"));
            }
        } else if !report.output_tail.is_empty() {
            self.log_line(&format!("    output (last {TAIL_LINES} lines):"));
            for line in report.output_tail.clone() {
                self.log_line(&format!("    │ {line}"));
            }
        } else if out.is_some() {
            self.log_line("    (no output)");
        }
        report.status = StepStatus::Failed;
        report.message = Some(headline);
        report.failures = failures;
        report
    }

    /// The report for a step before anything happened to it. Placeholders
    /// are filled in when every value is known; otherwise (a step after a
    /// failure or a skip) the templates are shown as written.
    fn base_report(&self, index: usize, step: &Step, vars: &Vars) -> StepReport {
        let (command, env, expected) = match resolve(step, vars) {
            Ok(r) => (r.command, r.env, r.expect),
            Err(_) => (
                step.command_template(),
                step.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                step.expect.clone(),
            ),
        };
        let (command, command_shortened) = super::report::shorten(&self.masker.mask(&command));
        StepReport {
            index,
            title: step.title.clone(),
            explain: step.explain.trim().to_string(),
            on: step.on.clone(),
            identity: step.identity.clone(),
            command,
            command_shortened,
            env: env.into_iter().map(|(k, v)| (k, self.masker.mask(&v))).collect(),
            clock: step.clock.clone(),
            status: StepStatus::NotRun,
            exit_code: None,
            duration_ms: 0,
            expected: self.mask_expect(&expected),
            message: None,
            failures: Vec::new(),
            note: None,
            captures: BTreeMap::new(),
            output_tail: Vec::new(),
            trust: None,
        }
    }

    fn not_run(&self, index: usize, step: &Step, vars: &Vars, note: &str) -> StepReport {
        let mut report = self.base_report(index, step, vars);
        report.note = Some(note.to_string());
        report
    }

    fn mask_expect(&self, e: &Expect) -> Expect {
        let mut masked = e.map_strings(|s| self.masker.mask(s));
        masked.outcome = Some(e.effective_outcome());
        masked
    }

    /// `[2/6] Title`, where it runs if not plainly on the client, and the command.
    fn heading_lines(&self, heading: &str, step: &Step, report: &StepReport) -> Vec<String> {
        let mut lines = vec![self.paint(heading, BOLD)];
        let mut context = Vec::new();
        if !step.on.is_client() {
            context.push(format!("on {}", step.on));
        }
        if let Some(id) = &step.identity {
            context.push(format!("as {id}"));
        }
        if let Some(clock) = &step.clock {
            context.push(format!("clock {clock}"));
        }
        for (k, v) in &report.env {
            context.push(format!("{k}={v}"));
        }
        if !context.is_empty() {
            lines.push(self.paint(&format!("    ({})", context.join(", ")), DIM));
        }
        for (i, line) in report.command.lines().enumerate() {
            let prefix = if i == 0 { "    $ " } else { "      " };
            lines.push(self.paint(&format!("{prefix}{line}"), DIM));
        }
        lines
    }

    fn log_heading(&mut self, heading: &str, step: &Step, report: &StepReport) {
        for line in self.heading_lines(heading, step, report) {
            self.log_line(&line);
        }
    }

    fn log_line(&mut self, line: &str) {
        self.opts.printer.line(line);
    }

    fn paint(&self, text: &str, style: Style) -> String {
        self.opts.printer.paint(text, style)
    }
}

const BOLD: Style = Style::Bold;
const DIM: Style = Style::Dim;
const RED: Style = Style::Red;
const GREEN: Style = Style::Green;
const YELLOW: Style = Style::Yellow;

/// One line for a failed step: `expected failure containing "…", got exit 0`
/// when the exit status was wrong, else the (first) unmet expectation.
fn headline(expected: &Expect, failures: &[Failure], code: Option<i32>) -> String {
    if let (Some(code), true) = (code, failures.iter().any(|f| f.kind == FailureKind::ExitStatus)) {
        let wanted = match (expected.exit_code, expected.effective_outcome()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Outcome::Failure) => "failure".to_string(),
            (None, _) => "success".to_string(),
        };
        let detail = if let Some(c) = expected.contains.first() {
            format!(" containing {c:?}")
        } else if let Some(m) = expected.matches.first() {
            format!(" matching /{m}/")
        } else {
            String::new()
        };
        return format!("expected {wanted}{detail}, got exit {code}");
    }
    failures.first().map_or_else(|| "failed".to_string(), |f| f.message.clone())
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("{prefix}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

mod resolve;
mod step_mode;

/// A scripted executor for unit tests: hands out queued results in order and
/// records every call.
#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests;
