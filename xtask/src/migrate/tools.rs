//! What `migrate` asks the registry about a signed tag (through crane in the signers container);
//! the signing itself is `super::signing`.

/// The digest a tag points to now, or `-` when the registry has no such tag; then whether the
/// signed digest is still served. Arguments: tag reference, digest reference.
pub const REGISTRY_STATE: &str = r#"now=$(crane digest --insecure "$1" 2>/dev/null) || now=-
echo "now=$now"
if crane manifest --insecure "$2" >/dev/null 2>&1; then echo served=yes; else echo served=no; fi"#;

/// Parses [`REGISTRY_STATE`]'s output: (digest the tag points to now, signed digest served).
pub fn parse_registry_state(out: &str) -> Option<(Option<String>, bool)> {
    let now = out.lines().find_map(|l| l.strip_prefix("now="))?.trim();
    let served = out.lines().find_map(|l| l.strip_prefix("served="))?.trim() == "yes";
    Some(((now != "-" && now.starts_with("sha256:")).then(|| now.to_string()), served))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_state_parses_moved_gone_and_unserved() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(parse_registry_state(&format!("now={d}\nserved=yes\n")), Some((Some(d.clone()), true)));
        assert_eq!(parse_registry_state("now=-\nserved=no\n"), Some((None, false)));
        assert_eq!(parse_registry_state("garbage"), None);
    }
}
