//! Where a docker CLI behaves differently from a step's `expect` (which holds for the default
//! client, 20.10): `[[steps.per_client]]`, each with its own expectation and the message recorded
//! on it, picked by the release the client's `docker --version` reports.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Expect, Step};

/// A step's expectation for some docker CLI releases (TOML: `[[steps.per_client]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientExpect {
    /// The releases it applies to, as a version requirement: `">=26"`, `">=26, <28"`.
    pub cli: String,
    /// What these clients do differently, and why (shown in --step mode, kept in reports).
    pub why: String,
    pub expect: Expect,
}

impl ClientExpect {
    /// How reports name this expectation set.
    pub fn set_name(&self) -> String {
        format!("docker CLI {}", self.cli)
    }

    fn requirement(&self) -> Result<semver::VersionReq> {
        semver::VersionReq::parse(&self.cli)
            .with_context(|| format!("per_client cli `{}` is not a version requirement like \">=26\"", self.cli))
    }
}

/// The expectation set a step used when it has others: `default`, or a [`ClientExpect`]'s name.
pub const DEFAULT_SET: &str = "default";

impl Step {
    /// The expectation for a client of release `cli` (unknown: the default), and the per-client
    /// set it came from, if any.
    pub fn expect_for(&self, cli: Option<&semver::Version>) -> (&Expect, Option<&ClientExpect>) {
        let chosen = cli.and_then(|v| self.per_client.iter().find(|c| c.requirement().is_ok_and(|r| r.matches(v))));
        match chosen {
            Some(c) => (&c.expect, Some(c)),
            None => (&self.expect, None),
        }
    }
}

/// The per-client sets' own rules (the expectations in them are checked like the default's).
pub(super) fn check(step: &Step, err: &mut impl FnMut(String)) {
    let mut seen_reqs = BTreeSet::new();
    for c in &step.per_client {
        if let Err(e) = c.requirement() {
            err(format!("{e:#}"));
        }
        if !seen_reqs.insert(c.cli.replace(' ', "")) {
            err(format!("per_client `{}` is given twice", c.cli));
        }
        if c.why.trim().is_empty() {
            err(format!("per_client `{}`: `why` is empty: say what these clients do differently", c.cli));
        }
        if step.run.is_none() {
            err("`per_client` only applies to `run` steps".into());
        }
    }
}
