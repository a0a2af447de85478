//! The scenario file format (`xtask/scenarios/*.toml`) and its load-time checks.

mod per_client;
mod target;
mod trust_look;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{bail, Context, Result};
use regex_lite::Regex;
use serde::{Deserialize, Serialize};

use super::interpolate::{self, Vars, BUILTINS};
use crate::table;
pub use per_client::{ClientExpect, DEFAULT_SET};
pub use target::{ServiceName, Target};
pub use trust_look::TrustLook;

/// Capabilities a scenario may list in `requires`. An executor that lacks one
/// can refuse the scenario up front instead of failing half-way through.
pub const CAPABILITIES: &[&str] = &["faketime", "consumer"];

/// Helper containers a capability brings (steps run in one with `on = "<name>"`): `consumer`, the
/// pull-time enforcement point (skopeo and podman through the consumer kit's policy).
pub const HELPERS: &[&str] = &["consumer"];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// One line, shown in listings.
    pub summary: String,
    /// What the scenario teaches; shown before the first step in --step mode.
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Containers this scenario runs beside the stack, for its steps only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// What happens and why; shown in --step mode.
    pub explain: String,
    #[serde(default)]
    pub on: Target,
    /// A second client identity (same container, own DOCKER_CONFIG/trust dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// A libfaketime offset such as "+15d" for this one command; Go programs see it too (see `clock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    #[serde(default)]
    pub expect: Expect,
    /// Where a docker CLI behaves differently from `expect` (which holds for the default client,
    /// 20.10): its own expectation, with the message recorded on it. The first whose `cli`
    /// requirement the client's release meets replaces `expect`; see [`Step::expect_for`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_client: Vec<ClientExpect>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capture: Vec<Capture>,
    /// A repository whose trust tree the HTML report shows just before and just after this step
    /// (a rotation, a freeze, a rollback). Placeholders as in `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustLook>,
    /// How long the step's command may run (`"90s"`, `"5m"`, `"1h"`), default
    /// [`DEFAULT_STEP_TIMEOUT`]; at the timeout its processes are killed and the step fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// A step's time limit when it names none: generous for a push of a small image into a vfs
/// daemon on a busy 2-core machine (seconds), short enough that a hung step ends a CI run.
/// The longest `run` a scenario file may hold. A step's script reaches its container as one
/// argument of the engine's `exec`, and Linux takes at most 128 KiB (MAX_ARG_STRLEN) in one
/// argument; the identity and clock wraps around the script need the rest.
pub const MAX_RUN_BYTES: usize = 120 * 1024;

pub const DEFAULT_STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// `"90s"`, `"5m"`, `"1h"` or plain seconds (`"90"`); more than zero.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().with_context(|| format!("timeout `{text}`: expected e.g. \"90s\", \"5m\""))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => bail!("timeout `{text}`: the unit is s, m or h (e.g. \"90s\", \"5m\")"),
    };
    if secs == 0 {
        bail!("timeout `{text}` must be more than zero");
    }
    Ok(std::time::Duration::from_secs(secs))
}

impl Step {
    /// This step's time limit (a malformed `timeout` was refused when the scenario was loaded).
    pub fn time_limit(&self) -> std::time::Duration {
        self.timeout.as_deref().and_then(|t| parse_timeout(t).ok()).unwrap_or(DEFAULT_STEP_TIMEOUT)
    }
}

/// A container a scenario runs beside the stack (an impostor server, say): started on the
/// sandbox network before the first step, labelled like the stack (so `down` and `destroy` remove
/// it too), and removed after the last step whatever happened. Steps run in it with `on = NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub name: String,
    /// One of the sandbox's images, by its name in sandbox.json (`client`, `notary`, `registry`, `db`).
    pub image: String,
    /// Names it answers to on the sandbox network, besides its own name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Replaces the image's command.
    pub command: Vec<String>,
    /// Files mounted read-only into it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContainerFile>,
    /// A shell command run in it until it exits 0 (up to a minute) before the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerFile {
    /// Absolute path in the container.
    pub path: String,
    pub content: String,
}

/// Something done to the stack rather than inside a container
/// (TOML: `action = { stop = "notarysigner" }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Stop(ServiceName),
    Start(ServiceName),
    Restart(ServiceName),
    /// SIGKILL to the service's main process, as a crash: the step waits until the engine's
    /// restart policy has brought it back by itself and the stack is ready, and prints what the
    /// service logged since (InnoDB's crash recovery, for the DB).
    Kill(ServiceName),
    /// Saves the notary databases under a name, for a later `db_restore`.
    DbSnapshot(String),
    DbRestore(String),
    /// `migrate` for one repository (`<registry>/<this>`): every format, the consumer kit written.
    Migrate(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Stop(s) => write!(f, "stop {s}"),
            Action::Start(s) => write!(f, "start {s}"),
            Action::Restart(s) => write!(f, "restart {s}"),
            Action::Kill(s) => write!(f, "kill {s}"),
            Action::DbSnapshot(n) => write!(f, "db_snapshot {n}"),
            Action::DbRestore(n) => write!(f, "db_restore {n}"),
            Action::Migrate(r) => write!(f, "migrate {r}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Exit code 0.
    Success,
    /// Any non-zero exit code.
    Failure,
    /// The exit code is not checked.
    Any,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Any => "any",
        })
    }
}

/// What a step's result must look like. Text checks apply to stdout and
/// stderr together, because tools disagree about where messages go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Defaults to what `exit_code` implies, else success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_matches: Vec<String>,
    /// For the rare case where the stream matters (e.g. a value meant for a pipe).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdout_contains: Vec<String>,
}

impl Expect {
    pub fn effective_outcome(&self) -> Outcome {
        match (self.outcome, self.exit_code) {
            (Some(o), _) => o,
            (None, Some(0)) | (None, None) => Outcome::Success,
            (None, Some(_)) => Outcome::Failure,
        }
    }

    /// Applies `f` to every string (used to mask secrets in reports).
    pub fn map_strings(&self, mut f: impl FnMut(&str) -> String) -> Expect {
        let mut map = |v: &[String]| v.iter().map(|s| f(s)).collect::<Vec<_>>();
        Expect {
            outcome: self.outcome,
            exit_code: self.exit_code,
            contains: map(&self.contains),
            not_contains: map(&self.not_contains),
            matches: map(&self.matches),
            not_matches: map(&self.not_matches),
            stdout_contains: map(&self.stdout_contains),
        }
    }

    fn literals(&self) -> impl Iterator<Item = &String> {
        self.contains.iter().chain(&self.not_contains).chain(&self.stdout_contains)
    }

    fn regexes(&self) -> impl Iterator<Item = &String> {
        self.matches.iter().chain(&self.not_matches)
    }
}

/// Saves the first group of `regex`'s first match as `{{name}}` for later steps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub name: String,
    pub regex: String,
}

impl Step {
    /// The command as shown to people and recorded in reports.
    pub fn command_template(&self) -> String {
        match (&self.run, &self.action) {
            (Some(run), _) => run.trim_end().to_string(),
            (None, Some(action)) => action.to_string(),
            (None, None) => String::new(),
        }
    }
}

impl Scenario {
    /// Parses and validates one scenario file; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario> {
        let scenario: Scenario =
            toml::from_str(text).with_context(|| format!("cannot parse scenario file {origin}"))?;
        scenario.validate().with_context(|| format!("invalid scenario file {origin}"))?;
        Ok(scenario)
    }

    /// Checks everything that can be checked without running, and reports all
    /// problems at once so an author fixes a file in one pass.
    pub fn validate(&self) -> Result<()> {
        let mut errors: Vec<String> = Vec::new();
        let name = &self.name;
        let mut top = |msg: String| errors.push(format!("scenario `{name}`: {msg}"));

        if !is_slug(&self.name) {
            top("name must be lowercase letters, digits and `-` (it names files and test suites)".into());
        }
        if self.summary.trim().is_empty() || self.summary.contains('\n') {
            top("summary must be one non-empty line".into());
        }
        if self.description.trim().is_empty() {
            top("description is empty".into());
        }
        if self.steps.is_empty() {
            top("has no steps".into());
        }
        for cap in &self.requires {
            if !CAPABILITIES.contains(&cap.as_str()) {
                top(format!("requires unknown capability `{cap}` (known: {})", CAPABILITIES.join(", ")));
            }
        }

        let mut declared: BTreeMap<&str, &Container> = BTreeMap::new();
        for c in &self.containers {
            let mut cerr = |msg: String| errors.push(format!("scenario `{name}`, container `{}`: {msg}", c.name));
            if !is_slug(&c.name) {
                cerr("name must be lowercase letters, digits and `-` (steps name it in `on`)".into());
            }
            if Target::builtin_names().contains(&c.name.as_str()) {
                cerr(format!("`{}` is a service of the sandbox; give the container a name of its own", c.name));
            }
            if HELPERS.contains(&c.name.as_str()) {
                cerr(format!(
                    "`{}` is a helper of the sandbox (`requires = [\"{0}\"]`); give the container a name of its own",
                    c.name
                ));
            }
            if declared.insert(&c.name, c).is_some() {
                cerr("is declared twice".into());
            }
            if c.image.trim().is_empty() {
                let images = table::embedded().image_names().join(", ");
                cerr(format!("needs an `image` (one of the sandbox's: {images})"));
            }
            if c.command.is_empty() {
                cerr("`command` is empty".into());
            }
            for a in &c.aliases {
                if !is_slug(a) {
                    cerr(format!("alias `{a}` must be lowercase letters, digits and `-`"));
                }
            }
            let mut paths = BTreeSet::new();
            for f in &c.files {
                if !f.path.starts_with('/') {
                    cerr(format!("file path `{}` must be absolute", f.path));
                }
                if !paths.insert(&f.path) {
                    cerr(format!("file `{}` is declared twice", f.path));
                }
            }
        }

        // Names visible so far, with the step that defined them (0 = builtin).
        let mut defined: BTreeMap<String, usize> = BUILTINS.iter().map(|b| (b.to_string(), 0)).collect();
        let mut snapshots: BTreeSet<&str> = BTreeSet::new();

        for (i, step) in self.steps.iter().enumerate() {
            let index = i + 1;
            let mut err =
                |msg: String| errors.push(format!("scenario `{name}`, step {index} ({:?}): {msg}", step.title));
            if step.title.trim().is_empty() || step.title.contains('\n') {
                err("title must be one non-empty line".into());
            }
            if step.explain.trim().is_empty() {
                err("explain is empty: say what happens and why".into());
            }

            match (&step.run, &step.action) {
                (Some(_), Some(_)) => err("has both `run` and `action`; use one".into()),
                (None, None) => err("needs `run` (a script) or `action` (on = \"engine\")".into()),
                (Some(run), None) => {
                    if run.trim().is_empty() {
                        err("`run` is empty".into());
                    }
                    if run.len() > MAX_RUN_BYTES {
                        err(format!(
                            "`run` is {} bytes; a step's script reaches its container as one command-line argument, which Linux limits to 128 KiB (at most {MAX_RUN_BYTES} bytes here): put the bulk into a file of a `[[containers]]` entry, or split the step",
                            run.len()
                        ));
                    }
                    if step.on == Target::Engine {
                        err("on = \"engine\" only takes an `action`, not `run`".into());
                    }
                }
                (None, Some(action)) => {
                    if step.on != Target::Engine {
                        err(format!("`action` ({action}) needs on = \"engine\", not on = \"{}\"", step.on));
                    }
                    match action {
                        Action::DbSnapshot(snap) => {
                            if !is_slug(snap) {
                                err(format!("snapshot name `{snap}` must be lowercase letters, digits and `-`"));
                            }
                            snapshots.insert(snap);
                        }
                        Action::DbRestore(snap) => {
                            if !snapshots.contains(snap.as_str()) {
                                err(format!("db_restore `{snap}` but no earlier step takes db_snapshot `{snap}`"));
                            }
                        }
                        Action::Migrate(repo) => {
                            if repo.is_empty() || repo.contains(['@', ':', ' ']) || repo.starts_with('/') {
                                err(format!("migrate `{repo}` must be a repository path such as \"test/app\""));
                            }
                        }
                        Action::Stop(_) | Action::Start(_) | Action::Restart(_) | Action::Kill(_) => {}
                    }
                    if !step.env.is_empty() {
                        err("`env` only applies to `run` steps".into());
                    }
                }
            }

            if let Target::Container(c) = &step.on {
                let helper = HELPERS.contains(&c.as_str()) && self.requires.iter().any(|r| r == c);
                if !declared.contains_key(c.as_str()) && !helper {
                    let mut known: Vec<&str> = Target::builtin_names();
                    known.extend(declared.keys());
                    let hint = if HELPERS.contains(&c.as_str()) {
                        format!("; `{c}` needs `requires = [\"{c}\"]`")
                    } else {
                        String::new()
                    };
                    err(format!(
                        "on = \"{c}\" names no service and no container of this scenario (known: {}){hint}",
                        known.join(", ")
                    ));
                }
            }

            if let Some(id) = &step.identity {
                if !step.on.is_client() {
                    err(format!("`identity` only applies on \"{}\", not on \"{}\"", ServiceName::client(), step.on));
                }
                if let Err(e) = crate::sandbox::name::validate_identity(id) {
                    err(e.to_string());
                }
            }

            if let Some(t) = &step.timeout {
                if step.run.is_none() {
                    err("`timeout` only applies to `run` steps".into());
                }
                if let Err(e) = parse_timeout(t) {
                    err(format!("{e:#}"));
                }
            }

            if let Some(clock) = &step.clock {
                if step.run.is_none() {
                    err("`clock` only applies to `run` steps".into());
                }
                if !is_clock(clock) {
                    err(format!(
                        "clock `{clock}` is not a faketime offset like \"+400d\", \"-2h\" or \"@2030-01-01 00:00:00\""
                    ));
                }
                let client_image = &table::embedded().client().expect("sandbox.json has a client (unit-tested)").image;
                let carries_clock = match &step.on {
                    on if on.is_client() => true,
                    Target::Container(c) => declared.get(c.as_str()).is_some_and(|d| d.image == *client_image),
                    _ => false,
                };
                if !carries_clock {
                    err(format!(
                        "`clock` needs the emulator and libfaketime, which only the client image carries; on = \"{}\" cannot shift it",
                        step.on
                    ));
                }
                if !self.requires.iter().any(|r| r == "faketime") {
                    err("uses `clock` but the scenario does not list `requires = [\"faketime\"]`".into());
                }
            }

            for key in step.env.keys() {
                if !interpolate::is_identifier(key) {
                    err(format!("env name `{key}` is not a valid variable name"));
                }
            }

            let expects: Vec<(String, &Expect)> = std::iter::once((String::new(), &step.expect))
                .chain(step.per_client.iter().map(|c| (format!("per_client `{}`: ", c.cli), &c.expect)))
                .collect();
            for (which, e) in &expects {
                match (e.outcome, e.exit_code) {
                    (Some(Outcome::Success), Some(c)) if c != 0 => {
                        err(format!("{which}expects outcome \"success\" but exit_code {c}"))
                    }
                    (Some(Outcome::Failure), Some(0)) => {
                        err(format!("{which}expects outcome \"failure\" but exit_code 0"))
                    }
                    _ => {}
                }
            }
            per_client::check(step, &mut err);

            // Placeholders: everything a step uses must exist before it runs.
            let mut texts: Vec<(&str, &str)> = Vec::new();
            if let Some(run) = &step.run {
                texts.push(("run", run));
            }
            for v in step.env.values() {
                texts.push(("env", v));
            }
            for (_, e) in &expects {
                for s in e.literals().chain(e.regexes()) {
                    texts.push(("expect", s));
                }
            }
            for c in &step.capture {
                texts.push(("capture", &c.regex));
            }
            if let Some(look) = &step.trust {
                texts.push(("trust", look.repository()));
                if let Some(Err(e)) = look.identity().map(crate::sandbox::name::validate_identity) {
                    err(format!("trust: {e}"));
                }
            }
            for (field, text) in texts {
                match interpolate::placeholders(text) {
                    Err(e) => err(format!("{field}: {e}")),
                    Ok(used) => {
                        for var in used {
                            if !defined.contains_key(&var) {
                                let later = self.steps[i..]
                                    .iter()
                                    .position(|s| s.capture.iter().any(|c| c.name == var))
                                    .map(|p| format!(" (it is captured later, by step {})", index + p))
                                    .unwrap_or_default();
                                err(format!(
                                    "{field} uses `{{{{{var}}}}}`, which is not defined before this step{later}"
                                ));
                            }
                        }
                    }
                }
            }

            // Regexes must compile once placeholders are filled in; any
            // placeholder value is escaped, so a stand-in is representative.
            let stand_in: Vars = defined.keys().map(|k| (k.clone(), "x".to_string())).collect();
            let compile = |re: &str| -> Result<Regex> {
                let filled = interpolate::interpolate_regex(re, &stand_in)?;
                Ok(Regex::new(&filled)?)
            };
            for re in expects.iter().flat_map(|(_, e)| e.regexes()) {
                // A broken placeholder was reported above already.
                match compile(re) {
                    Err(e) if interpolate::placeholders(re).is_ok() => {
                        err(format!("regex /{re}/ does not compile: {e}"))
                    }
                    _ => {}
                }
            }
            for c in &step.capture {
                if !interpolate::is_identifier(&c.name) {
                    err(format!("capture name `{}` is not an identifier", c.name));
                }
                match compile(&c.regex) {
                    Ok(re) if re.captures_len() < 2 => err(format!(
                        "capture `{}`: regex /{}/ has no group; the first group is the value",
                        c.name, c.regex
                    )),
                    Ok(_) => {}
                    Err(e) => {
                        if interpolate::placeholders(&c.regex).is_ok() {
                            err(format!("capture `{}`: regex /{}/ does not compile: {e}", c.name, c.regex));
                        }
                    }
                }
            }

            // Captures become visible only after their step ran.
            for c in &step.capture {
                match defined.get(&c.name) {
                    Some(0) => err(format!("capture `{}` would shadow a builtin", c.name)),
                    Some(first) => err(format!(
                        "capture `{}` is already defined by step {first}; capture names must be unique",
                        c.name
                    )),
                    None => {
                        defined.insert(c.name.clone(), index);
                    }
                }
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            bail!("{}", errors.join("\n"))
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// faketime's relative offsets ("+400d", "-2h", "+1.5y") and absolute times
/// ("@2030-01-01 00:00:00" starts the clock there, without "@" it freezes).
fn is_clock(s: &str) -> bool {
    static RELATIVE: &str = r"^[+-][0-9]+(\.[0-9]+)?[smhdy]?$";
    static ABSOLUTE: &str = r"^@?[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?$";
    Regex::new(RELATIVE).is_ok_and(|r| r.is_match(s)) || Regex::new(ABSOLUTE).is_ok_and(|r| r.is_match(s))
}

#[cfg(test)]
mod tests;
