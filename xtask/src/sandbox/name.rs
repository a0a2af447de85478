//! The token rule for names that become paths and engine names. A sandbox name becomes a directory
//! under the state root, a prefix of container, network and volume names, and a label value that
//! selects what `down`/`destroy` remove; a client identity (`exec --identity`, a step's
//! `identity`) becomes a directory in the client. Both are one safe token, checked before anything
//! touches the disk or an engine.
//!
//! No `--` either: a scenario's own container is named `<sandbox>--scn-<container>`
//! ([`SCENARIO_INFIX`]), and a name without `--` can never produce that from `<name>-<service>`,
//! so a scenario container never has the name of any sandbox's service container.

use anyhow::{bail, Result};

pub const RULE: &str = "1 to 63 characters: lowercase letters, digits, '_', '.' and '-', starting with a letter or digit, no '..' and no '--'";

/// Between a sandbox's name and a scenario container's: `--` cannot occur in a valid name.
pub const SCENARIO_INFIX: &str = "--scn-";

/// True when `s` follows [`RULE`].
pub fn is_token(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-'))
        && !s.contains("..")
        && !s.contains("--")
}

/// Checks `name` against [`RULE`]; the error says the rule and what to do.
pub fn validate(name: &str) -> Result<()> {
    if !is_token(name) {
        bail!("invalid sandbox name {name:?}: a name is {RULE} (e.g. `--name my-sandbox`)");
    }
    Ok(())
}

/// A client identity (it names a directory in the client): the same rule as a sandbox name.
pub fn validate_identity(identity: &str) -> Result<()> {
    if !is_token(identity) {
        bail!("invalid identity {identity:?}: an identity names a directory in the client, so it is {RULE} (e.g. `--identity alice`)");
    }
    Ok(())
}

/// For clap's `value_parser`: rejected before any command runs.
pub fn parse(name: &str) -> Result<String, String> {
    validate(name).map(|()| name.to_string()).map_err(|e| e.to_string())
}

/// For clap's `value_parser` of `--identity`.
pub fn parse_identity(identity: &str) -> Result<String, String> {
    validate_identity(identity).map(|()| identity.to_string()).map_err(|e| e.to_string())
}

/// The engine name of a sandbox's container or volume, `<sandbox>-<part>` (its network is the
/// sandbox's name alone): built here only.
pub fn object(sandbox: &str, part: &str) -> String {
    format!("{sandbox}-{part}")
}

/// The part that an engine name of `sandbox` names (`ts-db` is `db` of `ts`); None for a name
/// that is not one of its objects.
pub fn part_of<'a>(sandbox: &str, object: &'a str) -> Option<&'a str> {
    object.strip_prefix(sandbox)?.strip_prefix('-')
}

/// The engine name of a scenario's own container, `<sandbox>--scn-<container>` ([`SCENARIO_INFIX`]):
/// built here only, beside the service objects' names it can never equal.
pub fn scenario_object(sandbox: &str, container: &str) -> String {
    format!("{sandbox}{SCENARIO_INFIX}{container}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_tokens_pass() {
        for n in ["trust-sandbox", "a", "tse2e-docker-main", "x_1.2", "v-x", &"a".repeat(63)] {
            validate(n).unwrap_or_else(|e| panic!("{n}: {e}"));
            validate_identity(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }

    #[test]
    fn object_names_are_built_and_read_back_one_way() {
        assert_eq!(object("ts", "notarysigner"), "ts-notarysigner");
        assert_eq!(part_of("ts", &object("ts", "db")), Some("db"));
        assert_eq!(part_of("ts", "ts2-db"), None, "another sandbox's object");
        assert_eq!(part_of("ts", "other"), None);
    }

    #[test]
    fn anything_that_could_reach_outside_is_refused_with_the_rule() {
        for n in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a..b",
            "a--b",
            "-rf",
            "-x",
            ".hidden",
            "_x",
            "A",
            "a b",
            "a\nb",
            "é",
            &"a".repeat(64),
            &"a".repeat(300),
        ] {
            let err = validate(n).unwrap_err().to_string();
            assert!(err.contains("lowercase letters, digits"), "{n:?}: {err}");
            let err = validate_identity(n).unwrap_err().to_string();
            assert!(err.contains("invalid identity") && err.contains("no '--'"), "{n:?}: {err}");
        }
    }

    /// `<name>-<service>` for every valid name and every service of the table never has the
    /// shape `<sandbox>--scn-<container>`: whatever precedes the infix would contain `--`.
    #[test]
    fn no_service_container_name_holds_the_scenario_infix() {
        let spec = crate::table::load().unwrap();
        let mut services: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
        services.push("signers");
        for s in &services {
            assert!(!s.starts_with('-') && !s.starts_with("scn-") && !s.contains("--"), "{s}");
        }
        // Every split of a scenario container's name into `<a>-<b>` leaves an invalid `<a>`
        // or a `<b>` that no service has.
        for (sandbox, container) in [("v", "x-db"), ("trust", "sandbox-db"), ("a-", "b"), ("a.b_c", "db")] {
            let name = scenario_object(sandbox, container);
            for (i, _) in name.match_indices('-') {
                let (a, b) = (&name[..i], &name[i + 1..]);
                assert!(!is_token(a) || !services.contains(&b), "{name} = {a} - {b}");
            }
        }
    }
}
