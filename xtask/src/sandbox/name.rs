//! The sandbox name rule. A name becomes a directory under the state root, a prefix of container,
//! network and volume names, and a label value that selects what `down`/`destroy` remove: so it is
//! one safe token, checked before anything touches the disk or an engine.

use anyhow::{bail, Result};

pub const RULE: &str =
    "1 to 63 characters: lowercase letters, digits, '_', '.' and '-', starting with a letter or digit, no '..'";

/// Checks `name` against [`RULE`]; the error says the rule and what to do.
pub fn validate(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-'))
        && !name.contains("..");
    if !ok {
        bail!("invalid sandbox name {name:?}: a name is {RULE} (e.g. `--name my-sandbox`)");
    }
    Ok(())
}

/// For clap's `value_parser`: rejected before any command runs.
pub fn parse(name: &str) -> Result<String, String> {
    validate(name).map(|()| name.to_string()).map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_tokens_pass() {
        for n in ["trust-sandbox", "a", "tse2e-docker-main", "x_1.2", &"a".repeat(63)] {
            validate(n).unwrap_or_else(|e| panic!("{n}: {e}"));
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
        for n in
            ["", ".", "..", "../x", "a/b", "a..b", "-rf", ".hidden", "_x", "A", "a b", "a\nb", "é", &"a".repeat(64)]
        {
            let err = validate(n).unwrap_err().to_string();
            assert!(err.contains("lowercase letters, digits"), "{n:?}: {err}");
        }
    }
}
