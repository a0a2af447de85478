//! The drift check: the Nix images and the Debian images must be the same to the xtask — same
//! image set, same config where it matters (Cmd, Entrypoint, Env, ExposedPorts, WorkingDir, User,
//! Volumes, …) and every program and library the xtask runs there (super::expected) on each one.
//! A change on one side alone shows up here as a difference naming the side.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::expected;
use super::facts::{env_entries, path_dirs, ImageFacts, Images, NixFacts};
use crate::table::Spec;

/// Both systems the flake serves; each is compared on its own.
pub const SYSTEMS: [&str; 2] = ["x86_64-linux", "aarch64-linux"];

/// Environment entries only the Nix images set (name and value, or `*` and the suffix of a store
/// path), and why the Debian images need no equivalent: the engines set
/// HOME from /etc/passwd when the config has none (root: /root); Debian's curl, OpenSSL and Go
/// find /etc/ssl/certs by default while Nix's look for SSL_CERT_FILE; a step's `clock` finds
/// Debian's libfaketime at its fixed path, Nix's in the store through TRUST_SANDBOX_LIBFAKETIME.
const NIX_ONLY_ENV: [(&str, &str); 3] = [
    ("HOME", "/root"),
    ("SSL_CERT_FILE", "/etc/ssl/certs/ca-bundle.crt"),
    ("TRUST_SANDBOX_LIBFAKETIME", "*/lib/libfaketime.so.1"),
];

fn nix_only_value_ok(pattern: &str, value: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => value.starts_with("/nix/store/") && value.ends_with(suffix),
        None => value == pattern,
    }
}

/// Every difference, one line each; empty when the two paths agree.
pub fn compare(spec: &Spec, debian: &Images, nix: &NixFacts) -> Vec<String> {
    let mut problems = Vec::new();
    let spec_images: Vec<&String> = spec.images.keys().collect();
    let debian_images: Vec<&String> = debian.keys().collect();
    if debian_images != spec_images {
        problems.push(format!("images: Debian builds {debian_images:?}, sandbox.json names {spec_images:?}"));
    }
    for system in SYSTEMS {
        let Some(out) = nix.get(system) else {
            problems.push(format!("{system}: the flake has no outputs for this system"));
            continue;
        };
        let max = spec.versions.docker_cli_max_major;
        match out.docker.split('.').next().and_then(|m| m.parse::<u32>().ok()) {
            Some(major) if major <= max => {}
            _ => problems
                .push(format!("{system}: the flake's docker is {}, newer than docker_cli_max_major {max}", out.docker)),
        }
        let nix_images: Vec<&String> = out.images.iter().filter(|(_, i)| i.config.is_some()).map(|(n, _)| n).collect();
        if nix_images != spec_images {
            problems.push(format!("{system}: images: Nix builds {nix_images:?}, sandbox.json names {spec_images:?}"));
        }
        for image in &spec_images {
            let Some(nix_image) = out.images.get(*image) else { continue };
            let Some(nix_facts) = nix_image.facts() else { continue };
            let Some(deb_facts) = debian.get(*image) else { continue };
            let at = format!("{image} ({system})");
            if nix_image.image_name != format!("trust-sandbox/{image}") || nix_image.image_tag != "nix" {
                problems.push(format!(
                    "{at}: the Nix image is {}:{}, the xtask loads trust-sandbox/{image}:nix",
                    nix_image.image_name, nix_image.image_tag
                ));
            }
            let expected_cmd: Vec<Value> = spec.images[*image].cmd.iter().map(|s| Value::from(s.as_str())).collect();
            for (side, facts) in [("Nix", &nix_facts), ("Debian", deb_facts)] {
                if facts.config.get("Cmd") != Some(&Value::Array(expected_cmd.clone())) {
                    problems.push(format!(
                        "{at}: the {side} image's Cmd is {}, sandbox.json says {}",
                        show(facts.config.get("Cmd")),
                        Value::Array(expected_cmd.clone())
                    ));
                }
            }
            problems.extend(config_differences(&at, &nix_facts.config, &deb_facts.config));
            for (side, facts) in [("Nix", &nix_facts), ("Debian", deb_facts)] {
                problems.extend(runtime_paths(&at, spec, image, side, facts));
            }
            problems.extend(requirements(&at, spec, image, ("Nix", system, &nix_facts)));
            problems.extend(requirements(&at, spec, image, ("Debian", &expected::host_system(), deb_facts)));
            for alts in expected::programs(spec, image) {
                if !alts.iter().any(|p| nix_image.required_commands.contains(p)) {
                    problems.push(format!(
                        "{at}: the flake's image-{image}-commands check does not look for {}: add it to nix/lib.nix",
                        alts.join(" or ")
                    ));
                }
            }
        }
    }
    problems
}

/// Runtime-state paths of `side`'s image that would miss the tmpfs its services mount.
fn runtime_paths(at: &str, spec: &Spec, image: &str, side: &str, facts: &ImageFacts) -> Vec<String> {
    let targets: Vec<String> = spec
        .services
        .iter()
        .filter(|s| s.image == image)
        .flat_map(|s| s.tmpfs.iter().map(|t| t.target.trim_start_matches('/').to_string()))
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for (path, resolved) in &facts.resolved {
        let covered = targets.iter().any(|t| resolved == t || resolved.starts_with(&format!("{t}/")));
        if !covered {
            problems.push(format!(
                "{at}: the {side} image's /{path} leads to /{resolved}, outside its tmpfs ({}): runtime state kept there would outlive a crash",
                targets.iter().map(|t| format!("/{t}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    problems
}

/// What `side`'s image for `system` lacks of what the xtask runs there.
fn requirements(at: &str, spec: &Spec, image: &str, (side, system, facts): (&str, &str, &ImageFacts)) -> Vec<String> {
    let mut problems = Vec::new();
    let emulator = expected::emulator(image, system).map(|e| vec![e]);
    for alts in expected::programs(spec, image).into_iter().chain(emulator) {
        if !alts.iter().any(|p| facts.programs.contains(p)) {
            problems.push(format!(
                "{at}: the {side} image has no {} on its PATH ({})",
                alts.join(" or "),
                path_dirs(&facts.config).join(":")
            ));
        }
    }
    for lib in expected::libraries(image) {
        if !facts.libraries.contains(&lib) {
            problems.push(format!("{at}: the {side} image has no {lib}"));
        }
    }
    let extra = expected::unwanted(image, system, &facts.programs);
    if !extra.is_empty() {
        problems.push(format!(
            "{at}: the {side} image carries {}, which nothing runs there (drop it: images.lock on Debian, keepPrograms on Nix)",
            extra.join(", ")
        ));
    }
    problems
}

/// Config keys compared as values, with what an absent key means to the engines.
fn normalised(config: &Map<String, Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, v) in config {
        if k == "Env" {
            continue;
        }
        let empty = match v {
            Value::Null => true,
            Value::String(s) => s.is_empty() || (k == "WorkingDir" && s == "/"),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn env_map(config: &Map<String, Value>) -> BTreeMap<String, String> {
    env_entries(config).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn show(v: Option<&Value>) -> String {
    v.map(Value::to_string).unwrap_or_else(|| "unset".into())
}

/// Differences between two configs: every key but Env by value; Env by variable, where PATH may
/// differ (the programs on it are checked instead) and NIX_ONLY_ENV may be set by Nix alone.
pub fn config_differences(at: &str, nix: &Map<String, Value>, debian: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    let (n, d) = (normalised(nix), normalised(debian));
    for key in n.keys().chain(d.keys()).collect::<std::collections::BTreeSet<_>>() {
        if n.get(key) != d.get(key) {
            problems.push(format!("{at}: {key}: Nix {}, Debian {}", show(n.get(key)), show(d.get(key))));
        }
    }
    let (mut ne, mut de) = (env_map(nix), env_map(debian));
    ne.remove("PATH");
    de.remove("PATH");
    for (name, value) in NIX_ONLY_ENV {
        if !de.contains_key(name) && ne.get(name).is_some_and(|v| nix_only_value_ok(value, v)) {
            ne.remove(name);
        }
    }
    for name in ne.keys().chain(de.keys()).collect::<std::collections::BTreeSet<_>>() {
        if ne.get(name) != de.get(name) {
            problems.push(format!(
                "{at}: Env {name}: Nix {}, Debian {}",
                ne.get(name).map(String::as_str).unwrap_or("unset"),
                de.get(name).map(String::as_str).unwrap_or("unset")
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn equal_configs_and_the_known_env_differences_pass() {
        let nix = map(json!({"Cmd": ["dockerd"], "WorkingDir": "/",
            "Env": ["PATH=/bin:/usr/bin", "HOME=/root", "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt",
                "TRUST_SANDBOX_LIBFAKETIME=/nix/store/0c7kq8h1x2z9mmv2y5pb3a9ajw2q4l4f-libfaketime-0.9.12/lib/libfaketime.so.1"]}));
        let debian = map(json!({"Cmd": ["dockerd"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}));
        assert_eq!(config_differences("client", &nix, &debian), Vec::<String>::new());
    }

    #[test]
    fn var_run_must_lead_into_the_tmpfs() {
        let spec = crate::table::load().unwrap();
        let facts =
            |to: &str| ImageFacts { resolved: [("var/run".to_string(), to.to_string())].into(), ..Default::default() };
        assert!(runtime_paths("client", &spec, "client", "Nix", &facts("run")).is_empty());
        let problems = runtime_paths("client", &spec, "client", "Debian", &facts("var/run"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("the Debian image's /var/run leads to /var/run"), "{problems:?}");
        assert!(
            runtime_paths("signers", &spec, "signers", "Nix", &facts("var/run")).is_empty(),
            "no service, no tmpfs"
        );
    }

    #[test]
    fn a_change_on_either_side_is_a_difference() {
        let base = json!({"Cmd": ["dockerd"], "Env": ["PATH=/bin"]});
        let changes = [
            json!({"Cmd": ["dockerd", "--debug"], "Env": ["PATH=/bin"]}),
            json!({"Cmd": ["dockerd"], "Entrypoint": ["tini"], "Env": ["PATH=/bin"]}),
            json!({"Cmd": ["dockerd"], "ExposedPorts": {"4443/tcp": {}}, "Env": ["PATH=/bin"]}),
            json!({"Cmd": ["dockerd"], "Env": ["PATH=/bin", "DOCKER_CONTENT_TRUST=1"]}),
            json!({"Cmd": ["dockerd"], "Env": ["PATH=/bin", "HOME=/home/x"]}),
            json!({"Cmd": ["dockerd"], "Env": ["PATH=/bin", "TRUST_SANDBOX_LIBFAKETIME=/opt/libfaketime.so.1"]}),
            json!({"Cmd": ["dockerd"], "WorkingDir": "/srv", "Env": ["PATH=/bin"]}),
            json!({"Cmd": ["dockerd"], "User": "nobody", "Env": ["PATH=/bin"]}),
        ];
        for changed in changes {
            let (a, b) = (map(base.clone()), map(changed.clone()));
            assert!(!config_differences("x", &a, &b).is_empty(), "Debian side changed: {changed}");
            assert!(!config_differences("x", &b, &a).is_empty(), "Nix side changed: {changed}");
        }
    }
}
