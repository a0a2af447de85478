//! The command line: `cargo xtask sandbox <command>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::engine::EngineKind;
use crate::images::SourceKind;

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "Project tasks for trust-sandbox", version)]
pub struct Cli {
    #[command(subcommand)]
    pub task: Task,
}

#[derive(Subcommand, Debug)]
pub enum Task {
    /// A local, pinned Docker Content Trust sandbox (notary server + signer, DB, registry, client).
    Sandbox(SandboxArgs),
    /// The whole test suite: installs what it needs (with consent), lints, the Nix check,
    /// unit tests and end-to-end tests on docker and podman.
    Test(TestArgs),
    /// Check the flake with a current Nix (installed by us in a throwaway root) against the
    /// stand-in nixpkgs, then compare the Nix images with the Debian ones.
    NixCheck(NixCheckArgs),
}

#[derive(Args, Debug)]
pub struct NixCheckArgs {
    /// Consent to creating the Nix root (mmdebstrap from the host's mirror; implied by CI=true).
    #[arg(long, short)]
    pub yes: bool,
    /// The flake to check (default: this checkout; in a git checkout only tracked files count).
    #[arg(long)]
    pub flake: Option<PathBuf>,
    /// Take the Debian images' facts from this JSON (as --facts-out writes it) instead of the
    /// layer cache.
    #[arg(long)]
    pub debian_facts: Option<PathBuf>,
    /// Write what was compared (nix-facts.json, debian-facts.json) to this directory.
    #[arg(long)]
    pub facts_out: Option<PathBuf>,
    /// Debian mirror for the Nix root (default: the host's apt sources).
    #[arg(long)]
    pub mirror: Option<String>,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// Consent to installing system packages and tools (implied by CI=true).
    #[arg(long, short)]
    pub yes: bool,
    /// Only lints and unit tests: no engines, nothing installed.
    #[arg(long)]
    pub unit: bool,
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Which sandbox: names its containers, network, volumes and state directory.
    /// One token of lowercase letters, digits, '_', '.' and '-' (at most 63).
    // Checked here, before any command touches the disk or an engine; a leading '-' reaches the
    // check instead of being taken for a flag.
    #[arg(
        long,
        global = true,
        env = "TRUST_SANDBOX_NAME",
        default_value = crate::sandbox::DEFAULT_NAME,
        value_parser = crate::sandbox::name::parse,
        allow_hyphen_values = true
    )]
    pub name: String,
    /// Container engine; default: the one that is installed and answers (docker, then podman).
    #[arg(long, global = true, env = crate::engine::ENGINE_ENV, value_enum)]
    pub engine: Option<EngineKind>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Bring the sandbox up and wait until every part is ready.
    Up(UpArgs),
    /// Remove containers and network; keep trust data, keys and PKI.
    Down,
    /// Remove everything of this sandbox: containers, network, volumes, state (keys, PKI).
    Destroy,
    /// Show each service's state and readiness.
    Status(JsonFlag),
    /// Print a service's log.
    Logs(LogsArgs),
    /// Print what actually runs: notary, registry, DB, docker CLI and daemon, engine.
    Versions(JsonFlag),
    /// Build, list or remove the pinned images; update the lock.
    Images(ImagesArgs),
    /// Install and configure what is missing (engines, runc, mmdebstrap); start dockerd.
    Setup(SetupArgs),
    /// Check the machine and print exact instructions for what is missing.
    Doctor,
    /// Bring the sandbox up if needed and play the guide's scenario.
    Play(PlayArgs),
    /// List or run scripted scenarios.
    Scenario(ScenarioArgs),
    /// An interactive shell in the client, with the trust environment set.
    Shell,
    /// Run one command in the client (for scripts): trust environment and passphrases preset,
    /// its exit code passed through. `exec [--identity NAME] -- CMD ARGS…`
    Exec(ExecArgs),
    /// Map notaryserver and sandboxregistry to 127.0.0.1 in the hosts file.
    Hosts(HostsArgs),
    /// Print eval-able exports so host tools reach the sandbox as in the guide.
    Env,
    /// Measure up/down/build/scenario against plain engine baselines.
    Bench(BenchArgs),
    /// Re-sign every DCT-signed tag by its signed digest with cosign (both formats) and/or Notation, verify, and write
    /// the consumer kit; with --from, those of a Notary server and registry you own (plan, archive, apply).
    Migrate(MigrateArgs),
    /// Measure every enforcement point (DCT, cosign, Notation, a pull-time policy, a plain pull) on the same image under each attack.
    Compare(CompareArgs),
    /// Write the running sandbox as a Compose file or Kubernetes manifests (secrets as 0600 files).
    Export(ExportArgs),
    /// See a repository's trust data: roles, versions, expiries, keys and who holds them, tags.
    Trust(TrustArgs),
}

#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    #[command(subcommand)]
    pub command: TrustCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum TrustCommand {
    /// A repository's TUF trust data as a tree: the server's (compared with the client's cache),
    /// or one client identity's cache (compared with the server).
    Show(TrustShowArgs),
}

#[derive(Args, Debug, Clone)]
pub struct TrustShowArgs {
    /// The repository: `test/trusttest` (on the sandbox's registry) or `sandboxregistry:5000/test/trusttest`.
    pub repository: String,
    /// Show what this client identity's cache holds (alice, bob, … as scenario steps create them).
    #[arg(long, value_parser = crate::sandbox::name::parse_identity, allow_hyphen_values = true)]
    pub identity: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// What to write: a Compose file, or Kubernetes manifests.
    #[arg(value_enum)]
    pub format: ExportFormat,
    /// Directory to write into (default: `export/<format>` in the sandbox's state directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A Compose file (docker-compose, podman-compose, Compose v2).
    Compose,
    /// Kubernetes manifests: one Pod, PersistentVolumeClaims (podman kube play, a cluster).
    Kube,
}

impl Command {
    /// The command's name, as typed (for the lock's holder note).
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Up(_) => "up",
            Command::Down => "down",
            Command::Destroy => "destroy",
            Command::Status(_) => "status",
            Command::Logs(_) => "logs",
            Command::Versions(_) => "versions",
            Command::Images(_) => "images",
            Command::Setup(_) => "setup",
            Command::Doctor => "doctor",
            Command::Play(_) => "play",
            Command::Scenario(_) => "scenario",
            Command::Shell => "shell",
            Command::Exec(_) => "exec",
            Command::Hosts(_) => "hosts",
            Command::Env => "env",
            Command::Bench(_) => "bench",
            Command::Migrate(_) => "migrate",
            Command::Compare(_) => "compare",
            Command::Export(_) => "export",
            Command::Trust(_) => "trust",
        }
    }
}

// `--json [FILE]`, the same on every command that has it. (A `//` comment: clap would show a
// doc comment as the about text of subcommands that take only this.)
#[derive(Args, Debug, Clone, Default)]
pub struct JsonFlag {
    /// Write the result as JSON to FILE; without FILE (or with `-`), to stdout instead of the text.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<String>,
}

impl JsonFlag {
    /// Writes `value` where `--json` says. True when the JSON went to stdout, so the caller prints
    /// no text there.
    pub fn write(&self, value: &impl serde::Serialize) -> anyhow::Result<bool> {
        match self.json.as_deref() {
            Some(target) => crate::ui::json(target, value),
            None => Ok(false),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ImageSourceArgs {
    /// Where images come from.
    #[arg(long = "images", value_enum, env = "TRUST_SANDBOX_IMAGES", default_value = "auto")]
    pub source: SourceKind,
    /// Debian mirror URL instead of the host's apt sources (e.g. a snapshot.debian.org URL).
    #[arg(long)]
    pub mirror: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub images: ImageSourceArgs,
    /// Host port (on 127.0.0.1) for notaryserver:4443; fixed when the sandbox is created.
    #[arg(long)]
    pub server_port: Option<u16>,
    /// Host port (on 127.0.0.1) for sandboxregistry:5000; fixed when the sandbox is created.
    #[arg(long)]
    pub registry_port: Option<u16>,
    /// Which daemon the client drives: its own (default), or the host's (docker only, as the guide).
    #[arg(long, value_enum)]
    pub client: Option<crate::sandbox::state::ClientMode>,
    /// The docker CLI the client runs: 20.10 (the default, the image's own), 26.1 or 28.5
    /// (pinned in images.lock), or file:PATH (a docker binary of your own, 28 or older);
    /// remembered; changing it recreates only the client and keeps its trust data.
    #[arg(long, value_name = "ID|file:PATH", value_parser = crate::images::client_cli::Choice::parse)]
    pub client_cli: Option<crate::images::client_cli::Choice>,
    /// The registry serves TLS with a certificate of the sandbox CA (a stand-in for a registry you
    /// own); fixed when the sandbox is created.
    #[arg(long)]
    pub registry_tls: bool,
    /// The registry requires basic auth (htpasswd, bcrypt; user `sandbox`, generated password kept
    /// in the state); needs --registry-tls; fixed when the sandbox is created.
    #[arg(long, requires = "registry_tls")]
    pub registry_auth: bool,
    /// Consent to changes outside the sandbox that a mode needs (the hosts aliasing); CI=true implies it.
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    /// The service, as sandbox.json names it (db, notarysigner, notaryserver, registry, client).
    pub service: String,
    /// How many of the last lines to print.
    #[arg(long, default_value_t = 200)]
    pub tail: usize,
    /// Keep printing new lines as they come.
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: ImagesCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ImagesCommand {
    /// Build (or reuse) every image.
    Build {
        #[command(flatten)]
        images: ImageSourceArgs,
        /// Rebuild even when an image with the lock's tag exists.
        #[arg(long)]
        rebuild: bool,
        /// Build in this layer and .deb cache instead of the usual one (a new directory: a cold
        /// build); Debian images only.
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<std::path::PathBuf>,
        /// Load the images as PREFIX<image>:<tag> instead of localhost/trust-sandbox/<image>:<tag>,
        /// a namespace `up`, `images list` and `images rm` never use (e.g. to compare two builds).
        #[arg(long, value_name = "PREFIX")]
        repo: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List trust-sandbox images in the engine.
    List(JsonFlag),
    /// Remove trust-sandbox images and cached rootfs tarballs.
    Rm {
        /// Only images the lock no longer names.
        #[arg(long)]
        stale: bool,
    },
    /// Show the lock, or move every pin to what the mirror serves now.
    Lock {
        /// Ask the mirror for each package's current version and rewrite images.lock.
        #[arg(long)]
        update: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct SetupArgs {
    /// Consent to installing system packages (implied by CI=true).
    #[arg(long, short)]
    pub yes: bool,
    /// Set up both engines, not just one.
    #[arg(long)]
    pub all_engines: bool,
    /// Do not build and load the Debian images (the first `up` then does).
    #[arg(long)]
    pub no_images: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Pause before each step, explain it, and wait for Enter.
    #[arg(long)]
    pub step: bool,
    /// Keep running a scenario's later steps after one fails.
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub json: JsonFlag,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write one self-contained HTML page: every step, failures first, and the trust trees
    /// before and after the steps that change them.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PlayArgs {
    #[command(flatten)]
    pub up: UpArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ScenarioCommand {
    /// The scenarios this tool knows.
    List(JsonFlag),
    /// The recorded scenario × docker CLI matrix (xtask/data/client-matrix.toml) as the README's
    /// Markdown; measures nothing (`run --clients all` does).
    Matrix,
    /// Run scenarios by name (or all) against the running sandbox.
    Run {
        /// Scenarios by name (see `scenario list`).
        names: Vec<String>,
        /// Every scenario of the catalogue, in order.
        #[arg(long)]
        all: bool,
        /// A scenario of your own, from a TOML file (same format as xtask/scenarios/).
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
        /// Run them once per docker CLI and print the scenario × client matrix: `all` (the pinned
        /// 20.10, 26.1, 28.5) or a list (`20.10,28.5`, `file:PATH`); without names, the whole
        /// catalogue. Exits non-zero when a cell differs from xtask/data/client-matrix.toml.
        #[arg(long, value_name = "all|ID,...", value_delimiter = ',')]
        clients: Vec<String>,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// Run as a second client identity (own docker config and trust keys), as scenario steps do;
    /// one token, as a sandbox name.
    #[arg(long, value_parser = crate::sandbox::name::parse_identity, allow_hyphen_values = true)]
    pub identity: Option<String>,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct HostsArgs {
    #[command(subcommand)]
    pub command: HostsCommand,
    /// The hosts file to edit or read.
    #[arg(long, global = true, default_value = crate::hosts_file::DEFAULT_HOSTS_FILE)]
    pub hosts_file: PathBuf,
    /// Show the change as a diff; write nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

#[derive(Subcommand, Debug, Clone)]
pub enum HostsCommand {
    /// Add the block (idempotent; refuses to override another mapping of either name).
    Add,
    /// Remove the block, restoring the file byte for byte.
    Remove,
    /// Whether the block is there, stale, or contradicted by other lines.
    Show(JsonFlag),
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Repetitions of each measurement.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also time a cold build of every image: an empty cache, throwaway names (the images in use
    /// stay), the time of each image, against plain mmdebstrap.
    #[arg(long)]
    pub cold_build: bool,
    /// Passes over the whole scenario catalogue (the runner, then plain `exec`); each takes minutes.
    /// 0 leaves the catalogue row out (`-`), for a quicker run of the other rows.
    #[arg(long, default_value_t = 1)]
    pub catalogue_runs: usize,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command, subcommand and argument says what it is for in `--help`.
    #[test]
    fn every_help_line_is_filled() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "cargo xtask", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn one_cosign_format_option_for_migrate_and_migrate_from() {
        use crate::migrate::signing::CosignFormat;
        let format = |extra: &[&str]| {
            let base =
                ["cargo xtask", "sandbox", "migrate", "--from", "https://n:4443", "--registry", "https://r:5000"];
            let args: Vec<&str> = base.iter().chain(extra).copied().collect();
            let Task::Sandbox(a) = Cli::try_parse_from(args).unwrap().task else { panic!() };
            let Some(Command::Migrate(m)) = a.command else { panic!() };
            m.cosign_format
        };
        assert_eq!(format(&["--apply", "--cosign-key", "k"]), CosignFormat::Both, "migrate's default");
        assert_eq!(format(&["--apply", "--cosign-key", "k", "--cosign-format", "legacy"]), CosignFormat::Legacy);
    }

    #[test]
    fn json_means_the_same_everywhere() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap();
        let Task::Sandbox(a) = parse(&["cargo xtask", "sandbox", "status", "--json"]).task else { panic!() };
        let Some(Command::Status(j)) = a.command else { panic!() };
        assert_eq!(j.json.as_deref(), Some("-"));
        let Task::Sandbox(a) = parse(&["cargo xtask", "sandbox", "bench", "--json", "out.json"]).task else { panic!() };
        let Some(Command::Bench(b)) = a.command else { panic!() };
        assert_eq!(b.json.json.as_deref(), Some("out.json"));
        let Task::Sandbox(a) = parse(&["cargo xtask", "sandbox", "versions"]).task else { panic!() };
        let Some(Command::Versions(j)) = a.command else { panic!() };
        assert_eq!(j.json, None);
    }
}

#[derive(Args, Debug, Clone)]
pub struct MigrateArgs {
    /// Which signatures to add.
    #[arg(long, value_enum, default_value = "both")]
    pub to: MigrateTo,
    /// Which of cosign's formats (also with --from --apply): `legacy` (the `.sig` tag) is the
    /// only one podman, CRI-O and skopeo read; `bundle` is cosign 3's default; `both` serves
    /// every consumer.
    #[arg(long, value_enum, default_value = "both")]
    pub cosign_format: crate::migrate::signing::CosignFormat,
    /// Where to write the consumer kit (policy.json, registries.d, Notation policy, Kyverno
    /// ClusterPolicy); default: `signers/kit` in the sandbox's state directory.
    #[arg(long, value_name = "DIR")]
    pub kit: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonFlag,
    /// Write one self-contained HTML page: each signed digest's DCT origin and its new signatures.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub images: ImageSourceArgs,
    // Boxed: it is most of the command line's size.
    #[command(flatten)]
    pub from: Box<MigrateFromArgs>,
    /// Check an archive made by `--archive` offline (hashes against its manifest, then every
    /// signature against its root), and exit.
    #[arg(long, value_name = "DIR", conflicts_with = "from")]
    pub verify_archive: Option<PathBuf>,
}

// `migrate --from`: a Notary server and registry you own instead of this sandbox.
#[derive(Args, Debug, Clone, Default)]
pub struct MigrateFromArgs {
    /// Migrate from a Notary server you own (https://host:port) instead of this sandbox: plan
    /// (the default), --archive, --apply.
    #[arg(long, value_name = "URL", requires = "registry")]
    pub from: Option<String>,
    /// The registry beside that Notary server (https://host[:port]); required with --from.
    #[arg(long, value_name = "URL", requires = "from")]
    pub registry: Option<String>,
    /// What DCT named the repositories after (their GUNs are PREFIX/<repository>); default: the
    /// registry's host:port.
    #[arg(long, value_name = "PREFIX", requires = "from")]
    pub gun_prefix: Option<String>,
    /// The CA that issued the Notary server's certificate (default: the system's roots).
    #[arg(long, value_name = "FILE", requires = "from")]
    pub notary_ca: Option<PathBuf>,
    /// The CA that issued the registry's certificate (default: the system's roots).
    #[arg(long, value_name = "FILE", requires = "from")]
    pub registry_ca: Option<PathBuf>,
    /// A docker config.json with the servers' credentials (auths, credHelpers, credsStore);
    /// default $DOCKER_CONFIG/config.json or ~/.docker/config.json. Environment variables
    /// TRUST_SANDBOX_{REGISTRY,NOTARY}_{USERNAME,PASSWORD} take precedence.
    #[arg(long, value_name = "FILE", requires = "from")]
    pub docker_config: Option<PathBuf>,
    /// Repositories to read (paths in the registry, such as team/app, or their GUNs).
    #[arg(value_name = "REPOSITORY", requires = "from")]
    pub repositories: Vec<String>,
    /// A file of repositories, one a line (# comments).
    #[arg(long, value_name = "FILE", requires = "from")]
    pub repos_file: Option<PathBuf>,
    /// Also read every repository the registry's catalog lists (/v2/_catalog, where allowed).
    #[arg(long, requires = "from")]
    pub catalog: bool,
    /// Only show what DCT signed and what would be signed; write nothing (the default).
    #[arg(long, requires = "from", conflicts_with = "apply")]
    pub plan: bool,
    /// Keep each repository's TUF metadata and a manifest of its hashes in DIR.
    #[arg(long, value_name = "DIR", requires = "from")]
    pub archive: Option<PathBuf>,
    /// Sign every signed digest the registry still serves with your keys, verify, and write the
    /// evidence report.
    #[arg(long, requires = "from")]
    pub apply: bool,
    /// Your cosign key: a file (its password in COSIGN_PASSWORD) or a KMS URI, passed to cosign.
    #[arg(long, value_name = "REF", requires = "from")]
    pub cosign_key: Option<String>,
    /// Your Notation key, by name in your Notation configuration.
    #[arg(long, value_name = "NAME", requires = "from", conflicts_with = "notation_cert")]
    pub notation_key: Option<String>,
    /// Your Notation configuration directory (default: $XDG_CONFIG_HOME/notation or
    /// ~/.config/notation).
    #[arg(long, value_name = "DIR", requires = "notation_key")]
    pub notation_config: Option<PathBuf>,
    /// A Notation signing certificate (chain, leaf first) to sign with, with --notation-key-file.
    #[arg(long, value_name = "FILE", requires = "notation_key_file")]
    pub notation_cert: Option<PathBuf>,
    /// The private key of --notation-cert.
    #[arg(long, value_name = "FILE", requires = "notation_cert")]
    pub notation_key_file: Option<PathBuf>,
    /// Sign even where the trust data has expired (DCT itself no longer accepts it).
    #[arg(long, requires = "from")]
    pub allow_expired_trust_data: bool,
    /// Judge expiry at this time instead of now (with --verify-archive: instead of when the
    /// archive was made): RFC 3339, or +<n>d / +<n>h.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Where --apply writes its evidence report (default: migrate-from/evidence.json in the
    /// sandbox's state directory); an earlier report there is carried forward.
    #[arg(long, value_name = "FILE", requires = "apply")]
    pub evidence: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MigrateTo {
    Cosign,
    Notation,
    Both,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Only these rows of xtask/data/comparison.toml (by id); default: all.
    #[arg(long = "row", value_name = "ID")]
    pub rows: Vec<String>,
    #[command(flatten)]
    pub json: JsonFlag,
    /// Print the recorded matrix as the README's Markdown table, measure nothing.
    #[arg(long)]
    pub markdown: bool,
    /// Write one self-contained HTML page: the attack matrix as a grid, each cell with its evidence.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub images: ImageSourceArgs,
}
