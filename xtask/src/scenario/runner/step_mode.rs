//! `--step` mode: before each step a person reads what it does and answers run, skip or quit;
//! after it, its output is echoed (the runner's log shows only a failed step's tail otherwise).

use std::io::{BufRead, Write};

use super::{expect, indent, Executor, Output, Runner, Step, StepReport};

/// Upper bound on output echoed after a step in --step mode.
const ECHO_LINES: usize = 200;

/// `--step` mode: a person confirms each step. Prompts (with the explanation
/// and the command) go to `prompt`; results still go to the runner's log.
pub struct StepMode {
    pub input: Box<dyn BufRead>,
    pub prompt: Box<dyn Write>,
}

pub(super) enum Answer {
    Run,
    Skip,
    Quit,
}

impl<E: Executor> Runner<E> {
    pub(super) fn ask(&mut self, heading: &str, step: &Step, report: &StepReport) -> Answer {
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

    pub(super) fn echo_output(&mut self, out: &Output) {
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
}
