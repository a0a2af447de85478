//! Scripted scenarios played through the sandbox: the file format, the
//! runner, and its reports. The executor that reaches into the containers
//! lives elsewhere and plugs in through [`Executor`].

pub mod containers;
pub mod executor;
pub mod expect;
pub mod html;
pub mod interpolate;
pub mod junit;
pub mod model;
pub mod report;
pub mod runner;

use anyhow::{bail, Context, Result};

pub use model::{Action, Outcome, Scenario, ServiceName, Target};
pub use report::{Report, StepStatus};
pub use runner::{Executor, Options, Output, Runner, StepMode};

/// The scenario `play` runs: the guide's.
pub const GUIDE: &str = "guide";

/// The scenario files compiled into the binary, by name. A scenario's `name`
/// must equal its key here, so that `--scenario NAME` and file names agree.
const EMBEDDED: &[(&str, &str)] = &[
    ("guide", include_str!("../../scenarios/guide.toml")),
    ("tag-swap", include_str!("../../scenarios/tag-swap.toml")),
    ("revoke", include_str!("../../scenarios/revoke.toml")),
    ("rollback", include_str!("../../scenarios/rollback.toml")),
    ("signer-outage", include_str!("../../scenarios/signer-outage.toml")),
    ("untrusted-ca", include_str!("../../scenarios/untrusted-ca.toml")),
    ("delegation", include_str!("../../scenarios/delegation.toml")),
    ("key-rotation", include_str!("../../scenarios/key-rotation.toml")),
    ("trust-pinning", include_str!("../../scenarios/trust-pinning.toml")),
    ("expiry", include_str!("../../scenarios/expiry.toml")),
    ("freeze", include_str!("../../scenarios/freeze.toml")),
    ("mix-and-match", include_str!("../../scenarios/mix-and-match.toml")),
    ("too-few-signatures", include_str!("../../scenarios/too-few-signatures.toml")),
    ("endless-data", include_str!("../../scenarios/endless-data.toml")),
    ("cached-trust", include_str!("../../scenarios/cached-trust.toml")),
    ("impostor-server", include_str!("../../scenarios/impostor-server.toml")),
    ("crash", include_str!("../../scenarios/crash.toml")),
    ("cutover", include_str!("../../scenarios/cutover.toml")),
];

/// The names of the embedded scenarios, in catalogue order.
pub fn names() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(name, _)| *name).collect()
}

/// Every embedded scenario, parsed and validated.
pub fn catalogue() -> Result<Vec<Scenario>> {
    EMBEDDED.iter().map(|(name, text)| load(name, text)).collect()
}

fn load(name: &str, text: &str) -> Result<Scenario> {
    let origin = format!("scenarios/{name}.toml");
    let scenario = Scenario::from_toml(text, &origin)?;
    if scenario.name != name {
        bail!("{origin} says name = {:?}; it must be {name:?}, like the file", scenario.name);
    }
    Ok(scenario)
}

/// One embedded scenario by name; an unknown name lists the known ones.
pub fn find(name: &str) -> Result<Scenario> {
    match EMBEDDED.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => load(n, text),
        None => {
            let known = names();
            let hint = suggest(name, &known).map(|s| format!(" Did you mean `{s}`?")).unwrap_or_default();
            bail!("unknown scenario `{name}`.{hint} Known scenarios: {}", known.join(", "))
        }
    }
    .with_context(|| format!("loading scenario `{name}`"))
}

/// The closest known name, if it is close enough to be a plausible typo.
fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (levenshtein(&lower, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) || k.starts_with(&lower) && !lower.is_empty())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_scenario_parses_and_validates() {
        let all = catalogue().unwrap();
        assert_eq!(all.len(), EMBEDDED.len());
        for s in &all {
            assert!(!s.steps.is_empty(), "{}", s.name);
        }
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, self::names(), "the catalogue keeps the order of EMBEDDED");
    }

    #[test]
    fn every_scenario_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut embedded = names();
        embedded.sort();
        assert_eq!(files, embedded, "a file in {} that is not in EMBEDDED, or the other way round", dir.display());
    }

    #[test]
    fn guide_has_the_catalogued_shape() {
        let guide = find("guide").unwrap();
        let runs: Vec<&str> = guide.steps.iter().filter_map(|s| s.run.as_deref()).collect();
        assert!(runs[0].contains("--remote"), "starts clean");
        assert!(guide.steps.iter().any(|s| s.on.as_str() == "registry"));
        let captures: Vec<&str> = guide.steps.iter().flat_map(|s| &s.capture).map(|c| c.name.as_str()).collect();
        assert_eq!(captures, vec!["digest", "layer"]);
    }

    #[test]
    fn find_known_name() {
        assert_eq!(find("tag-swap").unwrap().name, "tag-swap");
    }

    #[test]
    fn find_unknown_name_lists_known_ones() {
        let err = format!("{:#}", find("nosuch").unwrap_err());
        assert!(err.contains("unknown scenario `nosuch`"), "{err}");
        assert!(err.contains("guide, tag-swap, revoke"), "{err}");
        assert!(!err.contains("Did you mean"), "{err}");
    }

    #[test]
    fn find_suggests_a_close_name() {
        let err = format!("{:#}", find("gide").unwrap_err());
        assert!(err.contains("Did you mean `guide`?"), "{err}");
        let err = format!("{:#}", find("tagswap").unwrap_err());
        assert!(err.contains("Did you mean `tag-swap`?"), "{err}");
        let err = format!("{:#}", find("rev").unwrap_err());
        assert!(err.contains("Did you mean `revoke`?"), "{err}");
    }

    #[test]
    fn levenshtein_distances() {
        assert_eq!(levenshtein("guide", "guide"), 0);
        assert_eq!(levenshtein("gide", "guide"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
