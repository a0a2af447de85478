use std::collections::VecDeque;

use anyhow::{anyhow, Result};

use super::{Executor, Output};
use crate::scenario::model::{Action, Scenario, Target};
use crate::trust::view::TrustView;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Run { on: Target, identity: Option<String>, script: String, env: Vec<(String, String)>, clock: Option<String> },
    Action(Action),
}

#[derive(Default)]
pub struct FakeExecutor {
    pub results: VecDeque<Result<Output>>,
    pub calls: Vec<Call>,
    /// `begin` fails with this message when set.
    pub begin_error: Option<String>,
    /// "begin NAME" / "end NAME", in call order.
    pub lifecycle: Vec<String>,
    /// What `trust` answers, in order; and what it was asked (repository, identity).
    pub trust_views: VecDeque<Result<TrustView>>,
    pub trust_calls: Vec<(String, Option<String>)>,
    /// After this many `run`/`action` calls, `interrupted` says the run must stop (a signal).
    pub interrupt_after: Option<usize>,
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
    fn trust(&mut self, repository: &str, identity: Option<&str>) -> Result<TrustView> {
        self.trust_calls.push((repository.to_string(), identity.map(String::from)));
        self.trust_views.pop_front().unwrap_or_else(|| Err(anyhow!("fake executor: no trust view left")))
    }

    fn run(
        &mut self,
        on: &Target,
        identity: Option<&str>,
        script: &str,
        env: &[(String, String)],
        clock: Option<&str>,
    ) -> Result<Output> {
        self.calls.push(Call::Run {
            on: on.clone(),
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

    fn begin(&mut self, scenario: &Scenario) -> Result<()> {
        self.lifecycle.push(format!("begin {}", scenario.name));
        match &self.begin_error {
            Some(message) => Err(anyhow!("{message}")),
            None => Ok(()),
        }
    }

    fn end(&mut self, scenario: &Scenario) -> Result<()> {
        self.lifecycle.push(format!("end {}", scenario.name));
        Ok(())
    }

    fn interrupted(&self) -> Option<String> {
        self.interrupt_after.filter(|n| self.calls.len() >= *n).map(|_| "interrupted by SIGTERM".to_string())
    }
}
