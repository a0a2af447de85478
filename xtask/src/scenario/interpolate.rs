//! `{{name}}` placeholders in scenario strings.
//!
//! Only identifier-shaped contents are placeholders. Anything else between
//! `{{` and `}}` (`{{.Id}}`, `{{json .RepoDigests}}`) is left alone so that
//! scripts can keep using Go templates with `docker … --format`.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// Variables visible to a step: the builtins plus every value captured so far.
pub type Vars = BTreeMap<String, String>;

/// Names the runner always defines.
pub const BUILTINS: &[&str] = &["registry", "registry_url", "run_id", "server"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// True for names a scenario may define and use: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse(s: &str) -> Result<Vec<Piece<'_>>> {
    let mut pieces = Vec::new();
    let mut rest = s;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            bail!("unclosed `{{{{` at byte {} in {:?}", offset + open, shorten(s));
        };
        let inner = &after_open[..close];
        let whole_len = open + 2 + close + 2;
        if is_identifier(inner.trim()) {
            if open > 0 {
                pieces.push(Piece::Text(&rest[..open]));
            }
            pieces.push(Piece::Var(inner.trim()));
        } else {
            pieces.push(Piece::Text(&rest[..whole_len]));
        }
        offset += whole_len;
        rest = &rest[whole_len..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Every placeholder name used in `s`, in order of appearance (duplicates kept).
pub fn placeholders(s: &str) -> Result<Vec<String>> {
    Ok(parse(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(name) => Some(name.to_string()),
            Piece::Text(_) => None,
        })
        .collect())
}

fn render(s: &str, vars: &Vars, escape: fn(&str) -> String) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    for piece in parse(s)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => match vars.get(name) {
                Some(value) => out.push_str(&escape(value)),
                None => {
                    let known: Vec<&str> = vars.keys().map(String::as_str).collect();
                    bail!(
                        "unknown variable `{{{{{name}}}}}` (defined here: {}; was the step that \
                         captures it skipped?)",
                        known.join(", ")
                    );
                }
            },
        }
    }
    Ok(out)
}

/// Replaces every placeholder with its value verbatim.
pub fn interpolate(s: &str, vars: &Vars) -> Result<String> {
    render(s, vars, str::to_string)
}

/// Replaces placeholders inside a regular expression. Values are escaped
/// because a captured value is data to look for, not a pattern: a digest or
/// a registry host containing `.` must match only itself.
pub fn interpolate_regex(s: &str, vars: &Vars) -> Result<String> {
    render(s, vars, regex_lite::escape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn replaces_placeholders_and_keeps_text() {
        let v = vars(&[("registry", "sandboxregistry:5000"), ("run_id", "0a1b2c3d")]);
        assert_eq!(
            interpolate("push {{registry}}/t:{{ run_id }} done", &v).unwrap(),
            "push sandboxregistry:5000/t:0a1b2c3d done"
        );
        assert_eq!(interpolate("no placeholders", &v).unwrap(), "no placeholders");
        assert_eq!(interpolate("", &v).unwrap(), "");
    }

    #[test]
    fn unknown_variable_is_an_error_naming_it() {
        let err = interpolate("x {{digest}}", &vars(&[("run_id", "1")])).unwrap_err().to_string();
        assert!(err.contains("unknown variable `{{digest}}`"), "{err}");
        assert!(err.contains("run_id"), "{err}");
    }

    #[test]
    fn unclosed_braces_are_rejected() {
        let err = interpolate("echo {{digest", &Vars::new()).unwrap_err().to_string();
        assert!(err.contains("unclosed `{{` at byte 5"), "{err}");
        assert!(placeholders("a {{b}} {{").is_err());
    }

    #[test]
    fn go_templates_pass_through() {
        let s = "docker image ls --format '{{.ID}} {{json .RepoDigests}}' {{registry}}";
        assert_eq!(placeholders(s).unwrap(), vec!["registry".to_string()]);
        assert_eq!(
            interpolate(s, &vars(&[("registry", "r:5000")])).unwrap(),
            "docker image ls --format '{{.ID}} {{json .RepoDigests}}' r:5000"
        );
    }

    #[test]
    fn regex_values_are_escaped() {
        let v = vars(&[("registry", "sandboxregistry:5000"), ("d", "a.b")]);
        let re = interpolate_regex("^{{d}}$", &v).unwrap();
        assert_eq!(re, r"^a\.b$");
        let re = regex_lite::Regex::new(&re).unwrap();
        assert!(re.is_match("a.b"));
        assert!(!re.is_match("axb"));
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("digest"));
        assert!(is_identifier("_x9"));
        assert!(!is_identifier("9x"));
        assert!(!is_identifier(".ID"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a-b"));
    }
}
