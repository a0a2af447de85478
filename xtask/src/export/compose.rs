//! The plan as a Compose file (the Compose Specification, as Debian's docker-compose 1.29 and
//! Compose v2 read it). Containers keep `up`'s names (`<sandbox>-<service>`), so the tool's own
//! commands (`status`, `scenario run`, `shell`) work against the exported stack; each service's
//! `after` (what `up` waits for before starting it) becomes `depends_on: service_healthy` on
//! healthchecks, so Compose starts the same waves in parallel as `up`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::{Part, Plan};

pub const FILE: &str = "compose.yaml";
const NETWORK: &str = "sandbox";

#[derive(Serialize)]
struct Compose {
    services: BTreeMap<String, Service>,
    networks: BTreeMap<String, Labelled>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, Labelled>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, SecretFile>,
}

#[derive(Serialize)]
struct Labelled {
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct SecretFile {
    file: String,
}

#[derive(Serialize)]
struct Service {
    container_name: String,
    image: String,
    pull_policy: &'static str,
    /// `up`'s restart policy: a crashed service comes back by itself here too.
    #[serde(skip_serializing_if = "Option::is_none")]
    restart: Option<String>,
    hostname: String,
    command: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    labels: BTreeMap<String, String>,
    networks: BTreeMap<String, Aliases>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<VolumeMount>,
    /// `<target>:<mount options>`, the short form both docker-compose 1.29 and Compose v2 read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretMount>,
    healthcheck: Healthcheck,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<String, Condition>,
}

#[derive(Serialize)]
struct Aliases {
    aliases: Vec<String>,
}

#[derive(Serialize)]
struct VolumeMount {
    #[serde(rename = "type")]
    kind: &'static str,
    source: String,
    target: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<BindOptions>,
}

/// Compose v2 (since 2.30) passes a plain bind as `source:target:ro` to the engine, which then
/// splits a path with a colon in it (`/root/.docker/tls/notaryserver:4443/ca.crt`) and refuses
/// it; any advanced option makes it use the mount API instead. `rprivate` is the default
/// propagation, so this changes nothing else, and Debian's docker-compose 1.29 reads it too.
#[derive(Serialize)]
struct BindOptions {
    propagation: &'static str,
}

fn bind_options(source: &str, target: &str) -> Option<BindOptions> {
    (source.contains(':') || target.contains(':')).then_some(BindOptions { propagation: "rprivate" })
}

#[derive(Serialize)]
struct SecretMount {
    source: String,
    target: String,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: &'static str,
    timeout: &'static str,
    /// `up` waits up to 90 s for each service.
    retries: u32,
}

#[derive(Serialize)]
struct Condition {
    condition: &'static str,
}

/// A secret's key in the Compose file: its path under `secrets/`, made an identifier.
fn secret_key(rel: &std::path::Path) -> String {
    let s = rel.strip_prefix(super::SECRETS_DIR).unwrap_or(rel).display().to_string();
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

fn labels(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.clone(), escape(v))).collect()
}

/// Compose interpolates `$VAR` in every value; a literal `$` (shell code in commands and
/// healthchecks) is written `$$`.
fn escape(s: &str) -> String {
    s.replace('$', "$$")
}

fn escape_all(v: &[String]) -> Vec<String> {
    v.iter().map(|s| escape(s)).collect()
}

fn service(part: &Part) -> Service {
    let spec = &part.spec;
    let mut volumes: Vec<VolumeMount> = part
        .volumes
        .iter()
        .map(|(name, target)| VolumeMount {
            kind: "volume",
            source: name.clone(),
            target: target.clone(),
            read_only: false,
            bind: None,
        })
        .collect();
    let mut secrets = Vec::new();
    for f in &part.files {
        if f.secret {
            secrets.push(SecretMount { source: secret_key(&f.rel), target: f.target.clone() });
        } else {
            let source = format!("./{}", f.rel.display());
            let bind = bind_options(&source, &f.target);
            volumes.push(VolumeMount { kind: "bind", source, target: f.target.clone(), read_only: true, bind });
        }
    }
    let env_file = if part.secret_env.is_empty() {
        vec![]
    } else {
        vec![format!("./{}", Plan::secret_env_rel(&part.service).display())]
    };
    Service {
        container_name: spec.name.clone(),
        image: spec.image.clone(),
        pull_policy: "never",
        restart: spec.restart.clone(),
        hostname: spec.hostname.clone(),
        command: escape_all(&spec.command),
        environment: spec.env.iter().map(|e| (e.name.clone(), escape(&e.value))).collect(),
        env_file,
        labels: labels(&spec.labels),
        networks: [(NETWORK.to_string(), Aliases { aliases: spec.aliases.clone() })].into(),
        ports: spec.publish.iter().map(|(addr, host, container)| format!("{addr}:{host}:{container}")).collect(),
        cap_add: spec.cap_add.clone(),
        security_opt: spec.security_opt.clone(),
        volumes,
        tmpfs: part.tmpfs.iter().map(|(target, size)| format!("{target}:mode=755,size={size}")).collect(),
        secrets,
        healthcheck: Healthcheck {
            test: ["CMD".to_string()].into_iter().chain(escape_all(&part.probe)).collect(),
            interval: "1s",
            timeout: "10s",
            retries: 90,
        },
        depends_on: part.after.iter().map(|a| (a.clone(), Condition { condition: "service_healthy" })).collect(),
    }
}

pub fn render(plan: &Plan) -> Result<String> {
    let compose = Compose {
        services: plan.parts.iter().map(|p| (p.service.clone(), service(p))).collect(),
        networks: [(NETWORK.to_string(), Labelled { labels: labels(&plan.labels) })].into(),
        volumes: plan.volumes.iter().map(|v| (v.clone(), Labelled { labels: labels(&plan.labels) })).collect(),
        secrets: plan
            .parts
            .iter()
            .flat_map(|p| p.files.iter().filter(|f| f.secret))
            .map(|f| (secret_key(&f.rel), SecretFile { file: format!("./{}", f.rel.display()) }))
            .collect(),
    };
    let yaml = serde_saphyr::to_string(&compose)?;
    Ok(format!(
        "# Sandbox `{name}` (id {id}), written by `cargo xtask sandbox export compose` from the service table\n\
         # and this sandbox's state. Files it mounts are beside it: files/ (public), secrets/ (0600).\n\
         # Start: docker-compose -p {name} -f {FILE} up -d   Stop: docker-compose -p {name} -f {FILE} down -v\n{yaml}",
        name = plan.sandbox,
        id = plan.id,
    ))
}
