//! A step with its placeholders filled in from the run's values (built-ins and captures).

use anyhow::Result;

use super::interpolate;
use super::{Capture, Expect, Step, Vars};

/// A step with its placeholders filled in.
pub(super) struct Resolved {
    pub command: String,
    pub env: Vec<(String, String)>,
    pub expect: Expect,
    pub capture: Vec<Capture>,
}

pub(super) fn resolve(step: &Step, vars: &Vars) -> Result<Resolved> {
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
