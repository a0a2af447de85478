//! `env`: exports that let host tools talk to the sandbox by the guide's names.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::sandbox::{config, Sandbox, Selector};

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    print!("{}", exports(&sb));
    Ok(ExitCode::SUCCESS)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn exports(sb: &Sandbox) -> String {
    let ca = sb.ca_file().display().to_string();
    let server = if sb.state.server_port == 4443 {
        config::SERVER_URL.to_string()
    } else {
        format!("https://notaryserver:{}", sb.state.server_port)
    };
    let mut s = String::new();
    s.push_str("# eval \"$(cargo xtask sandbox env)\"  — needs `cargo xtask sandbox hosts add` for the names\n");
    for (k, v) in [
        ("DOCKER_CONTENT_TRUST", "1".to_string()),
        ("DOCKER_CONTENT_TRUST_SERVER", server.clone()),
        ("TRUST_SANDBOX_CA", ca),
        // Not CURL_CA_BUNDLE: it would replace curl's trust store for every other HTTPS host in
        // the shell; `curl --cacert "$TRUST_SANDBOX_CA"` trusts the sandbox CA for one call.
        ("NOTARY_SERVER", server),
    ] {
        s.push_str(&format!("export {k}={}\n", quote(&v)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a'b"), r"'a'\''b'");
    }
}
