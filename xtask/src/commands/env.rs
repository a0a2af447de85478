//! `env`: exports that let host tools talk to the sandbox by the guide's names.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::sandbox::{Sandbox, Selector};
use crate::util::shell_quote;

pub fn run(sh: &Shell, sel: &Selector) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    let (server, _) = sb.spec.published("server_port")?;
    let mut text = exports(&sb.ca_file().display().to_string(), server.network_name(), sb.state.server_port);
    if !sb.state.registry.is_plain() {
        text.push_str(&registry_exports(&sb));
    }
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// A sandbox made with `--registry-tls`/`--registry-auth`: where host tools reach its registry, and
/// the docker config that logs them in (a path: the password itself is never printed).
fn registry_exports(sb: &Sandbox) -> String {
    let mut s = format!(
        "export TRUST_SANDBOX_REGISTRY={}\n",
        shell_quote(&sb.registry_url(&format!("127.0.0.1:{}", sb.state.registry_port)))
    );
    if sb.state.registry.auth {
        let config = sb.dir.docker_config_dir().join("config.json");
        s.push_str(&format!("export TRUST_SANDBOX_DOCKER_CONFIG={}\n", shell_quote(&config.display().to_string())));
    }
    s
}

/// The exports for a server published on `server_port` under the name `server_name`.
fn exports(ca: &str, server_name: &str, server_port: u16) -> String {
    let server = format!("https://{server_name}:{server_port}");
    let mut s = String::new();
    s.push_str("# eval \"$(cargo xtask sandbox env)\"  — needs `cargo xtask sandbox hosts add` for the names\n");
    for (k, v) in [
        ("DOCKER_CONTENT_TRUST", "1"),
        ("DOCKER_CONTENT_TRUST_SERVER", &server),
        ("TRUST_SANDBOX_CA", ca),
        // Not CURL_CA_BUNDLE: it would replace curl's trust store for every other HTTPS host in
        // the shell; `curl --cacert "$TRUST_SANDBOX_CA"` trusts the sandbox CA for one call.
        ("NOTARY_SERVER", &server),
    ] {
        s.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::exports;

    #[test]
    fn a_shell_that_evaluates_the_exports_gets_the_values() {
        let text = exports("/state/it's here/ca.crt", "notaryserver", 14443);
        let script = format!(
            "{text}printf '%s|%s|%s' \"$DOCKER_CONTENT_TRUST_SERVER\" \"$TRUST_SANDBOX_CA\" \"${{CURL_CA_BUNDLE-unset}}\""
        );
        let out = std::process::Command::new("sh").arg("-c").arg(script).env_remove("CURL_CA_BUNDLE").output().unwrap();
        // CURL_CA_BUNDLE stays unset: it would replace curl's trust store for every other host.
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "https://notaryserver:14443|/state/it's here/ca.crt|unset");
    }
}
