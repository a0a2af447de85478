//! Harness for the end-to-end tests: runs the real xtask binary against real engines, each test
//! sandbox with its own name, ports and state directory, destroyed when the test ends.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives in the workspace")
}

/// The xtask binary, built once per test process (cargo builds test crates, not other bins).
pub fn xtask_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--package", "xtask"])
            .current_dir(workspace_root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build -p xtask failed");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
        target.join("debug/xtask")
    })
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    #[track_caller]
    pub fn assert_ok(&self, what: &str) -> &Run {
        assert!(
            self.ok(),
            "{what} failed (exit {}):\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_fails_with(&self, what: &str, needle: &str) -> &Run {
        assert!(!self.ok(), "{what} should have failed but exited 0:\n{}\n{}", self.stdout, self.stderr);
        assert!(
            self.stderr.contains(needle),
            "{what}: stderr lacks {needle:?}:\n--- stderr\n{}\n--- stdout\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn run(cmd: &mut Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    if let Some(input) = stdin {
        child.stdin.take().expect("piped").write_all(input.as_bytes()).expect("writing stdin");
    }
    let out = child.wait_with_output().expect("waiting for the command");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Does this engine answer? If not, the test fails: end-to-end tests never skip silently.
#[track_caller]
pub fn require_engine(engine: &str) {
    let answers = Command::new(engine)
        .args(["info"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        answers,
        "{engine} does not answer: end-to-end tests need both engines. Install and start them with \
         `cargo xtask sandbox setup --all-engines --yes` (`cargo xtask test --yes` and CI's .ci/run do this)"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// One test sandbox: its own name, ports and state directory; destroyed on drop (even on panic).
pub struct Sandbox {
    pub name: String,
    pub engine: String,
    pub state: tempfile::TempDir,
    pub server_port: u16,
    pub registry_port: u16,
}

impl Sandbox {
    pub fn new(engine: &str, purpose: &str) -> Sandbox {
        Sandbox::with_ports(engine, purpose, free_port(), free_port())
    }

    pub fn with_ports(engine: &str, purpose: &str, server_port: u16, registry_port: u16) -> Sandbox {
        // The process id keeps two checkouts testing at once from sharing a sandbox.
        let name = format!("tse2e-{engine}-{purpose}-{}", std::process::id());
        Sandbox::named(engine, &name, server_port, registry_port)
    }

    /// A sandbox with exactly this name (its own state directory and ports all the same).
    pub fn named(engine: &str, name: &str, server_port: u16, registry_port: u16) -> Sandbox {
        Sandbox {
            name: name.to_string(),
            engine: engine.to_string(),
            state: tempfile::Builder::new().prefix("trust-sandbox-e2e-").tempdir().expect("temp state dir"),
            server_port,
            registry_port,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(xtask_bin());
        c.arg("sandbox").args(["--name", &self.name, "--engine", &self.engine]).args(args);
        c.env("TRUST_SANDBOX_STATE", self.state.path()).env("NO_COLOR", "1").env_remove("TRUST_SANDBOX_NAME");
        c
    }

    pub fn x(&self, args: &[&str]) -> Run {
        run(&mut self.command(args), None)
    }

    pub fn x_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run(&mut self.command(args), Some(stdin))
    }

    pub fn up(&self) -> Run {
        self.up_with(&[])
    }

    /// `up` on the sandbox's ports, with further options (`--registry-tls`, …).
    pub fn up_with(&self, extra: &[&str]) -> Run {
        let (s, r) = (self.server_port.to_string(), self.registry_port.to_string());
        let mut args = vec!["up", "--server-port", &s, "--registry-port", &r];
        args.extend_from_slice(extra);
        self.x(&args)
    }

    /// The plain engine CLI, for checking what the tool did from the outside.
    pub fn engine_cli(&self, args: &[&str]) -> Run {
        run(Command::new(&self.engine).args(args), None)
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}", self.name)
    }

    pub fn exec(&self, service: &str, script: &str) -> Run {
        self.engine_cli(&["exec", &self.container(service), "sh", "-c", script])
    }

    /// One value from the trust database, as root over its socket.
    pub fn sql(&self, query: &str) -> String {
        let script = format!(
            "$(command -v mariadb || command -v mysql) -S /run/mysqld/mysqld.sock -uroot --batch --skip-column-names -e \"{query}\""
        );
        let r = self.exec("db", &script);
        r.assert_ok(query);
        r.stdout.trim().to_string()
    }

    pub fn labelled(&self, kind: &str) -> Vec<String> {
        let label = format!("label=io.trust-sandbox.instance={}", self.name);
        let args: Vec<&str> = match kind {
            "container" => vec!["ps", "--all", "--filter", &label, "--format", "{{.Names}}"],
            "network" => vec!["network", "ls", "--filter", &label, "--format", "{{.Name}}"],
            _ => vec!["volume", "ls", "--filter", &label, "--format", "{{.Name}}"],
        };
        let r = self.engine_cli(&args);
        r.assert_ok(kind);
        r.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.state.path().join(&self.name)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::env::var_os("TRUST_SANDBOX_KEEP").is_some() {
            eprintln!("keeping sandbox {} (TRUST_SANDBOX_KEEP)", self.name);
            return;
        }
        let r = self.x(&["destroy"]);
        // A sandbox that never got created (a refused `up`) has nothing to destroy.
        if !r.ok() && !r.stderr.contains("nothing to destroy") {
            eprintln!("destroying {} failed: {}", self.name, r.stderr);
        }
    }
}

/// A scenario file written to a temp dir, for `scenario run --file`.
pub fn scenario_file(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, toml).expect("writing scenario file");
    p
}
