//! Shell quoting, once: every script this tool builds for `sh` quotes its words here.

/// Single-quotes a word for sh: `a'b` becomes `'a'\''b'`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `export NAME='value'` and a newline: a line a shell sources to set `name` to `value` exactly.
pub fn shell_export(name: &str, value: &str) -> String {
    format!("export {name}={}\n", shell_quote(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_round_trips_through_sh() {
        for word in ["plain", "a'b", "it's 'quoted'", "$HOME `x` \\ \"q\"", ""] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(word)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), word);
        }
    }

    #[test]
    fn an_export_line_sets_the_value_exactly() {
        let line = shell_export("A", "it's $HOME");
        assert_eq!(line, "export A='it'\\''s $HOME'\n");
        let out = std::process::Command::new("sh").arg("-c").arg(format!("{line}printf %s \"$A\"")).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "it's $HOME");
    }
}
