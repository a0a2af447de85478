//! `versions`: what actually runs, asked of the running binaries (falling back to the package
//! database where a Debian build carries no version string).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

use crate::cli::JsonFlag;
use crate::sandbox::{Sandbox, Selector};

pub fn run(sh: &Shell, sel: &Selector, json: &JsonFlag) -> Result<ExitCode> {
    let sb = Sandbox::open_required(sh, sel)?;
    let v = collect(sh, &sb)?;
    if !json.write(&v)? {
        for (k, val) in &v {
            println!("{k:<16} {val}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// First capture of `re` in a command's output inside `service`, or `unknown (…)`.
fn ask(sh: &Shell, sb: &Sandbox, service: &str, script: &str, re: &str) -> String {
    let out = match sb.exec(sh, service, &["sh", "-c", script], &[], None) {
        Ok(o) => o,
        Err(e) => return format!("unknown ({e:#})"),
    };
    let re = regex_lite::Regex::new(re).expect("valid regex");
    re.captures(&out.combined())
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("unknown ({})", out.combined().lines().next().unwrap_or("no output")))
}

fn collect(sh: &Shell, sb: &Sandbox) -> Result<BTreeMap<String, String>> {
    let mut v = BTreeMap::new();
    let client = sb.spec.client()?.name.as_str();
    let pkg_or = |bin: &str, pkg: &str| {
        format!("{bin} 2>&1 | grep -Eo 'Version: *v?[0-9][^ ,]*' | head -1 | grep . || dpkg-query -W -f='Version: ${{Version}}' {pkg}")
    };
    v.insert(
        "notary-server".into(),
        ask(sh, sb, "notaryserver", &pkg_or("notary-server -version", "notary"), r"Version: *(\S+)"),
    );
    v.insert(
        "notary-signer".into(),
        ask(sh, sb, "notarysigner", &pkg_or("notary-signer -version", "notary"), r"Version: *(\S+)"),
    );
    v.insert("notary (cli)".into(), ask(sh, sb, client, &pkg_or("notary version", "notary"), r"Version: *(\S+)"));
    v.insert(
        "registry".into(),
        ask(
            sh,
            sb,
            "registry",
            "registry --version 2>&1 || dpkg-query -W -f='v${Version}' docker-registry",
            r"(v?[0-9]+\.[0-9]+\.[0-9][^ ]*)",
        ),
    );
    v.insert("database".into(), {
        let out = sb.sql(sh, "SELECT VERSION();");
        match out {
            Ok(o) if o.ok() => o.stdout.trim().to_string(),
            Ok(o) => format!("unknown ({})", o.combined().trim()),
            Err(e) => format!("unknown ({e:#})"),
        }
    });
    v.insert("docker (cli)".into(), ask(sh, sb, client, "docker version --format '{{.Client.Version}}'", r"(\S+)"));
    // Which CLI the sandbox was asked to run (`up --client-cli`); the line above is what answers.
    v.insert(
        "client cli".into(),
        crate::images::client_cli::describe_choice(&crate::images::lock::load()?, sb.state.client_cli.as_ref()),
    );
    v.insert("dockerd (client)".into(), ask(sh, sb, client, "docker version --format '{{.Server.Version}}'", r"(\S+)"));
    v.insert(
        format!("engine ({})", sb.engine.kind),
        sb.engine.server_version(sh).unwrap_or_else(|e| format!("unknown ({e:#})")),
    );
    Ok(v)
}
