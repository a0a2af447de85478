//! Plays scenarios step by step through an [`Executor`].

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::expect::{self, Failure, FailureKind};
use super::interpolate::{self, Vars};
use super::model::{Action, Capture, Expect, Outcome, Scenario, Step, Target};
use super::report::{self, Report, ScenarioReport, StepReport, StepStatus};

pub const DEFAULT_REGISTRY: &str = "sandboxregistry:5000";
pub const DEFAULT_SERVER: &str = "https://notaryserver:4443";

/// Lines of output kept in reports and shown under a failed step.
const TAIL_LINES: usize = 15;
/// Upper bound on output echoed after a step in --step/verbose mode.
const ECHO_LINES: usize = 200;

/// What one command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

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
}

impl<T: Executor + ?Sized> Executor for &mut T {
    fn run(
        &mut self,
        on: &Target,
        identity: Option<&str>,
        script: &str,
        env: &[(String, String)],
        clock: Option<&str>,
    ) -> Result<Output> {
        (**self).run(on, identity, script, env, clock)
    }

    fn action(&mut self, action: &Action) -> Result<Output> {
        (**self).action(action)
    }
}

impl<T: Executor + ?Sized> Executor for Box<T> {
    fn run(
        &mut self,
        on: &Target,
        identity: Option<&str>,
        script: &str,
        env: &[(String, String)],
        clock: Option<&str>,
    ) -> Result<Output> {
        (**self).run(on, identity, script, env, clock)
    }

    fn action(&mut self, action: &Action) -> Result<Output> {
        (**self).action(action)
    }
}

/// `--step` mode: a person confirms each step. Prompts (with the explanation
/// and the command) go to `prompt`; results still go to the runner's log.
pub struct StepMode {
    pub input: Box<dyn BufRead>,
    pub prompt: Box<dyn Write>,
}

pub struct Options {
    /// Run later steps after a failure. Off by default because a scenario's
    /// steps build on each other, so later failures would only be noise.
    pub keep_going: bool,
    /// Values (passphrases) replaced by `***` in everything printed or reported.
    pub secrets: Vec<String>,
    pub step: Option<StepMode>,
    /// Echo each command's output even when it passed.
    pub verbose: bool,
    pub color: bool,
    /// Human-readable progress; stderr in the CLI.
    pub log: Box<dyn Write>,
    /// Recorded in the report.
    pub engine: String,
    /// `None` picks a fresh random one.
    pub run_id: Option<String>,
    pub registry: String,
    pub server: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            keep_going: false,
            secrets: Vec::new(),
            step: None,
            verbose: false,
            color: color_auto(),
            log: Box::new(std::io::stderr()),
            engine: String::new(),
            run_id: None,
            registry: DEFAULT_REGISTRY.to_string(),
            server: DEFAULT_SERVER.to_string(),
        }
    }
}

/// Colour only for a person watching stderr, and never against NO_COLOR
/// (<https://no-color.org>: set and non-empty disables colour).
pub fn color_auto() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A fresh 8-hex-digit id. std's RandomState is seeded from the OS, which is
/// random enough to keep two runs' GUN contents and nonces apart.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("{:08x}", h.finish() as u32)
}

/// Replaces secret values with `***`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    pub fn new(secrets: &[String]) -> Masker {
        let mut secrets: Vec<String> = secrets.iter().filter(|s| !s.is_empty()).cloned().collect();
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    pub fn mask(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    fn mask_all(&self, v: &[String]) -> Vec<String> {
        v.iter().map(|s| self.mask(s)).collect()
    }

    fn mask_failure(&self, f: &Failure) -> Failure {
        Failure { kind: f.kind, message: self.mask(&f.message), context: self.mask_all(&f.context) }
    }
}

enum Answer {
    Run,
    Skip,
    Quit,
}

/// A step with its placeholders filled in.
struct Resolved {
    command: String,
    env: Vec<(String, String)>,
    expect: Expect,
    capture: Vec<Capture>,
}

pub struct Runner<E: Executor> {
    exec: E,
    opts: Options,
    masker: Masker,
    run_id: String,
    started_at: String,
    aborted: bool,
}

impl<E: Executor> Runner<E> {
    pub fn new(exec: E, mut opts: Options) -> Runner<E> {
        let run_id = opts.run_id.take().unwrap_or_else(new_run_id);
        Runner {
            exec,
            masker: Masker::new(&opts.secrets),
            opts,
            run_id,
            started_at: report::now_rfc3339(),
            aborted: false,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// True once the person at the --step prompt quit.
    pub fn aborted(&self) -> bool {
        self.aborted
    }

    pub fn executor_mut(&mut self) -> &mut E {
        &mut self.exec
    }

    pub fn into_executor(self) -> E {
        self.exec
    }

    /// The values `{{registry}}`, `{{server}}` and `{{run_id}}` stand for.
    pub fn builtins(&self) -> Vars {
        let mut vars = Vars::new();
        vars.insert("registry".into(), self.opts.registry.clone());
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

        if self.aborted {
            stop_note = Some("not run: the run was aborted".into());
        } else {
            let header = self.paint(&format!("== {}: {}", scenario.name, scenario.summary), BOLD);
            self.log_line(&header);
            if let Some(step_mode) = &mut self.opts.step {
                let text = indent(&self.masker.mask(scenario.description.trim()), "   ");
                let _ = writeln!(step_mode.prompt, "{text}");
            }
        }

        for (i, step) in scenario.steps.iter().enumerate() {
            let index = i + 1;
            if let Some(note) = &stop_note {
                let report = self.not_run(index, step, &vars, note);
                if !self.aborted {
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
            } else if report.status == StepStatus::Failed && !self.opts.keep_going {
                stop_note = Some(format!("not run: step {index} failed"));
            }
            steps.push(report);
        }

        let passed = steps.iter().all(|s| matches!(s.status, StepStatus::Passed | StepStatus::Skipped));
        let report = ScenarioReport {
            name: scenario.name.clone(),
            passed,
            aborted: self.aborted,
            duration_ms: millis(started.elapsed()),
            steps,
        };
        let line = report.summary_line();
        let line = self.paint(&line, if passed { GREEN } else { RED });
        self.log_line(&line);
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

        let started = Instant::now();
        let result = match &step.action {
            Some(action) => self.exec.action(action),
            None => self.exec.run(
                &step.on,
                step.identity.as_deref(),
                &resolved.command,
                &resolved.env,
                step.clock.as_deref(),
            ),
        };
        let elapsed = started.elapsed();
        report.duration_ms = millis(elapsed);

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
            if self.opts.verbose || self.opts.step.is_some() {
                self.echo_output(&out);
            }
            report
        } else {
            self.finish_failed(report, failures, Some(&out), elapsed)
        }
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

    /// The report for a step before anything happened to it.
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
        StepReport {
            index,
            title: step.title.clone(),
            on: step.on,
            identity: step.identity.clone(),
            command: self.masker.mask(&command),
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
        if step.on != Target::Client {
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

    fn ask(&mut self, heading: &str, step: &Step, report: &StepReport) -> Answer {
        let lines = self.heading_lines(heading, step, report);
        let explain = indent(&self.masker.mask(step.explain.trim()), "   ");
        let Some(mode) = self.opts.step.as_mut() else {
            return Answer::Run;
        };
        let _ = writeln!(mode.prompt, "\n{}", lines[0]);
        let _ = writeln!(mode.prompt, "{explain}");
        for line in &lines[1..] {
            let _ = writeln!(mode.prompt, "{line}");
        }
        loop {
            let _ = write!(mode.prompt, "  [Enter] run, [s] skip, [q] quit: ");
            let _ = mode.prompt.flush();
            let mut answer = String::new();
            match mode.input.read_line(&mut answer) {
                // End of input means nobody is there to answer.
                Ok(0) | Err(_) => {
                    let _ = writeln!(mode.prompt);
                    return Answer::Quit;
                }
                Ok(_) => {}
            }
            match answer.trim().to_ascii_lowercase().as_str() {
                "" => return Answer::Run,
                "s" | "skip" => return Answer::Skip,
                "q" | "quit" => return Answer::Quit,
                other => {
                    let _ = writeln!(mode.prompt, "  unknown answer {other:?}");
                }
            }
        }
    }

    fn echo_output(&mut self, out: &Output) {
        let text = self.masker.mask(&expect::combined(out));
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(ECHO_LINES);
        if skip > 0 {
            self.log_line(&format!("    │ … {skip} earlier lines"));
        }
        for line in &lines[skip..] {
            self.log_line(&format!("    │ {line}"));
        }
    }

    fn log_line(&mut self, line: &str) {
        // A log that cannot be written to must not stop the run.
        let _ = writeln!(self.opts.log, "{line}");
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.opts.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

const BOLD: &str = "1";
const DIM: &str = "2";
const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";

fn resolve(step: &Step, vars: &Vars) -> Result<Resolved> {
    let command = match &step.run {
        Some(run) => interpolate::interpolate(run.trim_end(), vars)?,
        None => step.command_template(),
    };
    let env = step
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), interpolate::interpolate(v, vars)?)))
        .collect::<Result<Vec<_>>>()?;
    let e = &step.expect;
    let literal = |v: &[String]| v.iter().map(|s| interpolate::interpolate(s, vars)).collect::<Result<Vec<_>>>();
    let regexes = |v: &[String]| v.iter().map(|s| interpolate::interpolate_regex(s, vars)).collect::<Result<Vec<_>>>();
    let expect = Expect {
        outcome: e.outcome,
        exit_code: e.exit_code,
        contains: literal(&e.contains)?,
        not_contains: literal(&e.not_contains)?,
        matches: regexes(&e.matches)?,
        not_matches: regexes(&e.not_matches)?,
        stdout_contains: literal(&e.stdout_contains)?,
    };
    let capture = step
        .capture
        .iter()
        .map(|c| Ok(Capture { name: c.name.clone(), regex: interpolate::interpolate_regex(&c.regex, vars)? }))
        .collect::<Result<Vec<_>>>()?;
    Ok(Resolved { command, env, expect, capture })
}

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

/// A scripted executor for unit tests: hands out queued results in order and
/// records every call.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::VecDeque;

    use anyhow::{anyhow, Result};

    use super::{Executor, Output};
    use crate::scenario::model::{Action, Target};

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Run { on: Target, identity: Option<String>, script: String, env: Vec<(String, String)>, clock: Option<String> },
        Action(Action),
    }

    #[derive(Default)]
    pub struct FakeExecutor {
        pub results: VecDeque<Result<Output>>,
        pub calls: Vec<Call>,
    }

    impl FakeExecutor {
        pub fn new() -> FakeExecutor {
            FakeExecutor::default()
        }

        pub fn then(mut self, code: i32, stdout: &str, stderr: &str) -> FakeExecutor {
            self.results.push_back(Ok(Output { code, stdout: stdout.to_string(), stderr: stderr.to_string() }));
            self
        }

        pub fn then_err(mut self, message: &str) -> FakeExecutor {
            self.results.push_back(Err(anyhow!("{message}")));
            self
        }

        fn next(&mut self) -> Result<Output> {
            self.results.pop_front().unwrap_or_else(|| Err(anyhow!("fake executor: no scripted result left")))
        }

        pub fn scripts(&self) -> Vec<String> {
            self.calls
                .iter()
                .map(|c| match c {
                    Call::Run { script, .. } => script.clone(),
                    Call::Action(a) => a.to_string(),
                })
                .collect()
        }
    }

    impl Executor for FakeExecutor {
        fn run(
            &mut self,
            on: &Target,
            identity: Option<&str>,
            script: &str,
            env: &[(String, String)],
            clock: Option<&str>,
        ) -> Result<Output> {
            self.calls.push(Call::Run {
                on: *on,
                identity: identity.map(str::to_string),
                script: script.to_string(),
                env: env.to_vec(),
                clock: clock.map(str::to_string),
            });
            self.next()
        }

        fn action(&mut self, action: &Action) -> Result<Output> {
            self.calls.push(Call::Action(action.clone()));
            self.next()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::{Arc, Mutex};

    use super::fake::{Call, FakeExecutor};
    use super::*;
    use crate::scenario::junit;
    use crate::scenario::model::Service;
    use crate::scenario::report::Summary;

    /// A log sink the test can read after the runner wrote to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn options(log: &Shared) -> Options {
        Options {
            color: false,
            log: Box::new(log.clone()),
            engine: "fake 1.0".into(),
            run_id: Some("0123abcd".into()),
            ..Options::default()
        }
    }

    fn scenario(toml: &str) -> Scenario {
        let text = format!("name = \"t\"\nsummary = \"test\"\ndescription = \"teaches testing\"\n{toml}");
        Scenario::from_toml(&text, "test").unwrap()
    }

    const THREE_STEPS: &str = r#"
[[steps]]
title = "push"
explain = "pushes"
run = "docker push {{registry}}/t:{{run_id}}"
expect = { contains = ["Successfully signed"] }
capture = [{ name = "digest", regex = 'digest: (sha256:[0-9a-f]+)' }]

[[steps]]
title = "pull"
explain = "pulls"
run = "docker pull x@{{digest}}"
env = { WANT = "{{digest}}" }
expect = { contains = ["Pull (1 of 1): x@{{digest}}"] }

[[steps]]
title = "last"
explain = "ends"
run = "true"
"#;

    fn statuses(r: &ScenarioReport) -> Vec<StepStatus> {
        r.steps.iter().map(|s| s.status).collect()
    }

    #[test]
    fn captures_flow_into_later_steps() {
        let log = Shared::default();
        let exec = FakeExecutor::new()
            .then(0, "latest: digest: sha256:beef size: 1\n", "Successfully signed t\n")
            .then(0, "Pull (1 of 1): x@sha256:beef\n", "")
            .then(0, "", "");
        let mut runner = Runner::new(exec, options(&log));
        let report = runner.run(&scenario(THREE_STEPS));
        assert!(report.passed, "{}", log.text());
        assert_eq!(statuses(&report), vec![StepStatus::Passed; 3]);
        assert_eq!(report.steps[0].captures["digest"], "sha256:beef");
        assert_eq!(report.steps[1].command, "docker pull x@sha256:beef");
        let exec = runner.into_executor();
        assert_eq!(
            exec.scripts(),
            vec!["docker push sandboxregistry:5000/t:0123abcd", "docker pull x@sha256:beef", "true"]
        );
        match &exec.calls[1] {
            Call::Run { env, on, .. } => {
                assert_eq!(env, &vec![("WANT".to_string(), "sha256:beef".to_string())]);
                assert_eq!(*on, Target::Client);
            }
            other => panic!("unexpected call {other:?}"),
        }
        let text = log.text();
        assert!(text.contains("== t: test"), "{text}");
        assert!(text.contains("[1/3] push\n    $ docker push sandboxregistry:5000/t:0123abcd"), "{text}");
        assert!(text.contains("  ✓ succeeded as expected ("), "{text}");
        assert!(text.contains("t: 3 passed, 0 failed\n"), "{text}");
    }

    #[test]
    fn unmet_expectation_fails_and_later_steps_are_not_run() {
        let log = Shared::default();
        let exec = FakeExecutor::new().then(0, "no signing here\nsecond line", "");
        let mut runner = Runner::new(exec, options(&log));
        let report = runner.run(&scenario(THREE_STEPS));
        assert!(!report.passed);
        assert_eq!(statuses(&report), vec![StepStatus::Failed, StepStatus::NotRun, StepStatus::NotRun]);
        assert_eq!(report.steps[1].note.as_deref(), Some("not run: step 1 failed"));
        // The not-run step cannot show a value that was never captured.
        assert_eq!(report.steps[1].command, "docker pull x@{{digest}}");
        assert_eq!(runner.into_executor().calls.len(), 1);
        let text = log.text();
        assert!(text.contains("✗ output does not contain \"Successfully signed\""), "{text}");
        assert!(text.contains("· capture `digest`"), "{text}");
        assert!(text.contains("│ no signing here\n    │ second line"), "{text}");
        assert!(text.contains("[2/3] pull — not run"), "{text}");
        assert!(text.contains("t: 0 passed, 1 failed, 2 not run"), "{text}");
    }

    #[test]
    fn wrong_exit_status_headline() {
        let log = Shared::default();
        let s = scenario(
            r#"
[[steps]]
title = "pull before signing"
explain = "refused"
run = "docker pull x"
expect = { outcome = "failure", contains = ["does not have trust data"] }
"#,
        );
        let exec = FakeExecutor::new().then(0, "pulled fine", "");
        let report = Runner::new(exec, options(&log)).run(&s);
        let text = log.text();
        assert!(text.contains("  ✗ expected failure containing \"does not have trust data\", got exit 0 ("), "{text}");
        assert!(text.contains("    · output does not contain \"does not have trust data\""), "{text}");
        assert_eq!(
            report.steps[0].message.as_deref(),
            Some("expected failure containing \"does not have trust data\", got exit 0")
        );
        assert_eq!(report.steps[0].exit_code, Some(0));
    }

    #[test]
    fn expected_failure_passes() {
        let log = Shared::default();
        let s = scenario(
            r#"
[[steps]]
title = "refused"
explain = "refused"
run = "docker pull x"
expect = { outcome = "failure", matches = ['No (valid )?trust data for latest'] }
"#,
        );
        let exec = FakeExecutor::new().then(1, "", "Error: No valid trust data for latest");
        let report = Runner::new(exec, options(&log)).run(&s);
        assert!(report.passed, "{}", log.text());
        assert!(log.text().contains("✓ failed as expected, exit 1"));
    }

    #[test]
    fn keep_going_runs_every_step() {
        let log = Shared::default();
        let exec = FakeExecutor::new().then(1, "", "boom").then(0, "", "").then(0, "", "");
        let mut opts = options(&log);
        opts.keep_going = true;
        let s = scenario(
            r#"
[[steps]]
title = "a"
explain = "a"
run = "false"
[[steps]]
title = "b"
explain = "b"
run = "true"
[[steps]]
title = "c"
explain = "c"
run = "true"
"#,
        );
        let mut runner = Runner::new(exec, opts);
        let report = runner.run(&s);
        assert!(!report.passed);
        assert_eq!(statuses(&report), vec![StepStatus::Failed, StepStatus::Passed, StepStatus::Passed]);
        assert_eq!(runner.into_executor().calls.len(), 3);
    }

    #[test]
    fn skipped_capture_makes_a_later_use_fail_clearly() {
        let log = Shared::default();
        let mut opts = options(&log);
        opts.keep_going = true;
        opts.step = Some(StepMode { input: Box::new(Cursor::new("s\n\n\n")), prompt: Box::new(log.clone()) });
        let report = Runner::new(FakeExecutor::new().then(0, "", ""), opts).run(&scenario(THREE_STEPS));
        assert_eq!(statuses(&report), vec![StepStatus::Skipped, StepStatus::Failed, StepStatus::Passed]);
        let f = &report.steps[1].failures[0];
        assert_eq!(f.kind, FailureKind::Interpolation);
        assert!(f.message.contains("unknown variable `{{digest}}`"), "{}", f.message);
    }

    #[test]
    fn executor_error_fails_the_step() {
        let log = Shared::default();
        let exec = FakeExecutor::new().then_err("container notarysandbox is not running");
        let report = Runner::new(exec, options(&log)).run(&scenario(THREE_STEPS));
        let step = &report.steps[0];
        assert_eq!(step.status, StepStatus::Failed);
        assert_eq!(step.exit_code, None);
        assert_eq!(step.failures[0].kind, FailureKind::Executor);
        assert!(log.text().contains("could not run the step: container notarysandbox is not running"));
    }

    #[test]
    fn engine_actions_and_run_parameters_reach_the_executor() {
        let log = Shared::default();
        let s = scenario(
            r#"
requires = ["faketime"]
[[steps]]
title = "stop the signer"
explain = "signing must fail"
on = "engine"
action = { stop = "notarysigner" }
[[steps]]
title = "sign as alice in the future"
explain = "expired"
identity = "alice"
clock = "+400d"
run = "docker trust sign x"
expect = { outcome = "any" }
[[steps]]
title = "look at the blob"
explain = "registry side"
on = "registry"
run = "ls"
"#,
        );
        let exec = FakeExecutor::new().then(0, "", "").then(5, "", "").then(0, "", "");
        let mut runner = Runner::new(exec, options(&log));
        let report = runner.run(&s);
        assert!(report.passed, "{}", log.text());
        assert_eq!(report.steps[0].command, "stop notarysigner");
        let calls = runner.into_executor().calls;
        assert_eq!(calls[0], Call::Action(Action::Stop(Service::Notarysigner)));
        assert_eq!(
            calls[1],
            Call::Run {
                on: Target::Client,
                identity: Some("alice".into()),
                script: "docker trust sign x".into(),
                env: vec![],
                clock: Some("+400d".into()),
            }
        );
        assert!(matches!(&calls[2], Call::Run { on: Target::Registry, .. }));
        let text = log.text();
        assert!(text.contains("(as alice, clock +400d)"), "{text}");
        assert!(text.contains("(on registry)"), "{text}");
        assert!(text.contains("✓ finished, exit 5"), "{text}");
    }

    const SECRET: &str = "s3cr3t-passphrase";

    fn leaky_run(log: &Shared) -> Report {
        let mut opts = options(log);
        opts.secrets = vec![SECRET.into(), String::new()];
        let s = scenario(&format!(
            r#"
[[steps]]
title = "echo"
explain = "leaks"
run = "echo {SECRET}"
env = {{ PASS = "{SECRET}" }}
expect = {{ contains = ["nothing"] }}
capture = [{{ name = "pw", regex = 'pw=(\S+)' }}]
"#
        ));
        let exec = FakeExecutor::new().then(0, &format!("pw={SECRET}\n"), &format!("using {SECRET}"));
        let mut runner = Runner::new(exec, opts);
        let scen = runner.run(&s);
        runner.report(vec![scen])
    }

    #[test]
    fn secrets_are_masked_in_log_json_and_junit() {
        let log = Shared::default();
        let report = leaky_run(&log);
        let text = log.text();
        let json = report.to_json();
        let xml = junit::render(&report);
        for (what, out) in [("log", &text), ("json", &json), ("junit", &xml)] {
            assert!(!out.contains(SECRET), "{what} leaks the secret:\n{out}");
            assert!(out.contains("***"), "{what} shows no mask:\n{out}");
        }
        let step = &report.scenarios[0].steps[0];
        assert_eq!(step.command, "echo ***");
        assert_eq!(step.env["PASS"], "***");
        assert_eq!(step.captures["pw"], "***");
        assert_eq!(step.output_tail, vec!["pw=***", "using ***"]);
    }

    #[test]
    fn masker_prefers_the_longest_secret() {
        let m = Masker::new(&["abc".into(), "abcdef".into(), String::new()]);
        assert_eq!(m.mask("x abcdef abc y"), "x *** *** y");
        assert_eq!(m.mask("nothing"), "nothing");
    }

    #[test]
    fn report_round_trips_with_schema() {
        let log = Shared::default();
        let exec = FakeExecutor::new().then(0, "latest: digest: sha256:beef\n", "Successfully signed\n").then(
            1,
            "",
            "<&\"> broke",
        );
        let mut runner = Runner::new(exec, options(&log));
        let report = runner.run_all(&[scenario(THREE_STEPS)]);
        assert_eq!(report.schema, "trust-sandbox/scenario-report/v1");
        assert_eq!(report.engine, "fake 1.0");
        assert_eq!(report.run_id, "0123abcd");
        let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap();
        assert!(re.is_match(&report.started_at), "{}", report.started_at);
        assert_eq!(report.summary, Summary { passed: 0, failed: 1 });

        let json = report.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["schema"], "trust-sandbox/scenario-report/v1");
        assert_eq!(value["scenarios"][0]["steps"][0]["status"], "passed");
        assert_eq!(value["scenarios"][0]["steps"][1]["status"], "failed");
        assert_eq!(value["scenarios"][0]["steps"][2]["status"], "not-run");
        assert_eq!(value["scenarios"][0]["steps"][0]["expected"]["outcome"], "success");
        assert_eq!(value["summary"]["failed"], 1);
        assert_eq!(Report::from_json(&json).unwrap(), report);

        let other = json.replace("scenario-report/v1", "scenario-report/v9");
        assert!(Report::from_json(&other).unwrap_err().to_string().contains("v9"));
        assert!(log.text().ends_with("\n0 passed, 1 failed\n"), "{}", log.text());
    }

    #[test]
    fn junit_has_suites_cases_failures_and_skips() {
        let log = Shared::default();
        let exec = FakeExecutor::new().then(0, "latest: digest: sha256:beef\n", "Successfully signed\n").then(
            1,
            "",
            "<&\"> broke",
        );
        let mut runner = Runner::new(exec, options(&log));
        let mut s = scenario(THREE_STEPS);
        s.steps[1].title = "pull <&\"'>".into();
        let report = runner.run_all(&[s]);
        let xml = junit::render(&report);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{xml}");
        assert!(xml.contains("<testsuite name=\"t\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{xml}");
        assert!(
            xml.contains("<testcase name=\"02 pull &lt;&amp;&quot;&apos;&gt;\" classname=\"trust-sandbox.t\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<failure message=\"expected success containing &quot;Pull (1 of 1): x@sha256:beef&quot;, \
                 got exit 1\" type=\"exit_status\">"
            ),
            "{xml}"
        );
        assert!(xml.contains("&lt;&amp;&quot;&gt; broke"), "{xml}");
        assert!(xml.contains("<skipped message=\"not run: step 2 failed\"/>"), "{xml}");
        assert!(!xml.contains("<&"), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert_eq!(xml.matches("</testcase>").count(), 3);
    }

    fn step_mode_run(input: &str) -> (ScenarioReport, Vec<String>, String, bool) {
        let log = Shared::default();
        let prompt = Shared::default();
        let mut opts = options(&log);
        opts.step =
            Some(StepMode { input: Box::new(Cursor::new(input.to_string())), prompt: Box::new(prompt.clone()) });
        let s = scenario(
            r#"
[[steps]]
title = "one"
explain = "First we do one thing."
run = "echo one"
[[steps]]
title = "two"
explain = "Then another."
run = "echo two"
[[steps]]
title = "three"
explain = "And a third."
run = "echo three"
"#,
        );
        let exec = FakeExecutor::new().then(0, "one\n", "").then(0, "two\n", "").then(0, "three\n", "");
        let mut runner = Runner::new(exec, opts);
        let report = runner.run(&s);
        let aborted = runner.aborted();
        let scripts = runner.into_executor().scripts();
        (report, scripts, prompt.text() + "\n--- log ---\n" + &log.text(), aborted)
    }

    #[test]
    fn step_mode_enter_runs_each_step() {
        let (report, scripts, text, aborted) = step_mode_run("\n\n\n");
        assert!(report.passed);
        assert!(!aborted);
        assert_eq!(scripts, vec!["echo one", "echo two", "echo three"]);
        assert!(text.contains("teaches testing"), "{text}");
        assert!(
            text.contains("[2/3] two\n   Then another.\n    $ echo two\n  [Enter] run, [s] skip, [q] quit: "),
            "{text}"
        );
        // In step mode a passing step's output is shown too.
        assert!(text.contains("    │ two"), "{text}");
    }

    #[test]
    fn step_mode_s_skips() {
        let (report, scripts, text, _) = step_mode_run("\ns\n\n");
        assert!(report.passed);
        assert_eq!(statuses(&report), vec![StepStatus::Passed, StepStatus::Skipped, StepStatus::Passed]);
        assert_eq!(scripts, vec!["echo one", "echo three"]);
        assert!(text.contains("  - skipped"), "{text}");
        assert!(text.contains("t: 2 passed, 0 failed, 1 skipped"), "{text}");
    }

    #[test]
    fn step_mode_q_aborts_the_rest() {
        let (report, scripts, text, aborted) = step_mode_run("\nq\n");
        assert!(aborted);
        assert!(report.aborted);
        assert!(!report.passed);
        assert_eq!(scripts, vec!["echo one"]);
        assert_eq!(statuses(&report), vec![StepStatus::Passed, StepStatus::NotRun, StepStatus::NotRun]);
        assert_eq!(report.steps[1].note.as_deref(), Some("not run: aborted at the prompt"));
        assert!(text.contains("t: 1 passed, 0 failed, 2 not run (aborted)"), "{text}");
    }

    #[test]
    fn step_mode_eof_aborts() {
        let (report, scripts, _, aborted) = step_mode_run("");
        assert!(aborted);
        assert!(scripts.is_empty());
        assert_eq!(statuses(&report), vec![StepStatus::NotRun; 3]);
    }

    #[test]
    fn step_mode_reprompts_on_unknown_answer() {
        let (report, scripts, text, _) = step_mode_run("what\n\nS\nQUIT\n");
        assert_eq!(scripts, vec!["echo one"]);
        assert_eq!(statuses(&report), vec![StepStatus::Passed, StepStatus::Skipped, StepStatus::NotRun]);
        assert!(text.contains("unknown answer \"what\""), "{text}");
    }

    #[test]
    fn abort_leaves_later_scenarios_not_run() {
        let log = Shared::default();
        let mut opts = options(&log);
        opts.step = Some(StepMode { input: Box::new(Cursor::new("q\n")), prompt: Box::new(log.clone()) });
        let s = scenario(THREE_STEPS);
        let mut runner = Runner::new(FakeExecutor::new(), opts);
        let report = runner.run_all(&[s.clone(), s]);
        assert_eq!(report.summary, Summary { passed: 0, failed: 2 });
        assert!(report.scenarios[1].aborted);
        assert_eq!(statuses(&report.scenarios[1]), vec![StepStatus::NotRun; 3]);
        assert!(runner.into_executor().calls.is_empty());
    }

    #[test]
    fn colour_only_when_asked() {
        let log = Shared::default();
        let mut opts = options(&log);
        opts.color = true;
        let s = scenario(THREE_STEPS);
        let exec = FakeExecutor::new().then(0, "", "");
        Runner::new(exec, opts).run(&s);
        assert!(log.text().contains("\x1b[31m✗\x1b[0m"), "{}", log.text());

        let plain = Shared::default();
        Runner::new(FakeExecutor::new().then(0, "", ""), options(&plain)).run(&s);
        assert!(!plain.text().contains('\x1b'));
    }

    #[test]
    fn run_ids_are_eight_lowercase_hex_digits() {
        let a = new_run_id();
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let runner = Runner::new(FakeExecutor::new(), Options { run_id: None, ..Options::default() });
        assert_eq!(runner.run_id().len(), 8);
        assert_eq!(runner.builtins()["registry"], "sandboxregistry:5000");
        assert_eq!(runner.builtins()["server"], "https://notaryserver:4443");
    }
}
