//! Shell quoting, once: every script this tool builds for `sh` quotes its words here.

/// Single-quotes a word for sh: `a'b` becomes `'a'\''b'`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
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
}
