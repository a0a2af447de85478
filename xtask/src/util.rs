//! The small helpers every part shares, each once: files written atomically, the clock, random
//! bytes, HTTP, and what a command returned.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// What one exec or engine call returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    pub fn combined(&self) -> String {
        let mut s = self.stdout.clone();
        if !s.is_empty() && !s.ends_with('\n') && !self.stderr.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.stderr);
        s
    }

    /// What went wrong, never empty: the output, else the exit status and what it means.
    pub fn reason(&self) -> String {
        let text = self.combined();
        let text = text.trim();
        if !text.is_empty() {
            return text.to_string();
        }
        match self.code {
            137 => {
                "exit 137 and no output: killed (SIGKILL), e.g. its container stopped or it ran out of memory".into()
            }
            code => format!("exit {code} and no output"),
        }
    }

    pub fn from_std(out: std::process::Output) -> Output {
        Output {
            // A signal death has no code; 128+n mirrors what a shell would report.
            code: out.status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + out.status.signal().unwrap_or(0)
            }),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

pub fn make_private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", path.display()))
}

/// Writes beside and renames, with mode 0600 from the first byte.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_mode(path, bytes, 0o600)
}

/// The one atomic write: readers see the old file or the new one, never a part, and the file
/// has `mode` from its first byte.
pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    commit(stage(dir, bytes, mode)?, path)?;
    sync_dir(dir)
}

/// A complete, synced temporary file in `dir` (so the rename cannot cross file systems), for
/// [`commit`]; callers that write files in pairs stage both before committing either.
pub fn stage(dir: &Path, bytes: &[u8], mode: u32) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(".staging-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    // The umask may have narrowed the mode at creation; certificates must stay world-readable.
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {}", file.path().display()))?;
    Ok(file)
}

/// Renames a staged file into place.
pub fn commit(staged: tempfile::NamedTempFile, dest: &Path) -> Result<()> {
    staged
        .persist(dest)
        .map(drop)
        .map_err(|e| e.error)
        .with_context(|| format!("moving a new file into place as {}", dest.display()))
}

/// Makes renames in `dir` durable, not just the files' contents.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

/// Now, as RFC 3339 UTC with second precision (`2025-01-31T12:00:00Z`).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes from the kernel's random source: passwords, passphrases, ids, serials.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf)
}

/// `n` random bytes as `2n` lowercase hex digits.
pub fn random_hex(n: usize) -> Result<String> {
    Ok(hex(&random_bytes(n)?))
}

/// The one HTTP client: short timeout, any status returned as a value; with `ca_pem`, TLS
/// trusts only that CA (not the system store), which proves the chain, not just the port.
pub fn http_agent(ca_pem: Option<&[u8]>) -> Result<ureq::Agent> {
    let mut config =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(3))).http_status_as_error(false);
    if let Some(pem) = ca_pem {
        let cert = ureq::tls::Certificate::from_pem(pem).context("parsing the sandbox CA")?.to_owned();
        config = config.tls_config(
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert]))).build(),
        );
    }
    Ok(config.build().into())
}

/// GET over TLS verified with our CA only (not the system store): proves the chain, not just the port.
pub fn https_get(url: &str, ca_file: &Path) -> Result<(u16, String)> {
    let pem = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    get(&http_agent(Some(&pem))?, url)
}

pub fn http_get(url: &str) -> Result<(u16, String)> {
    get(&http_agent(None)?, url)
}

pub fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String)> {
    let mut resp = agent.get(url).call().with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, body))
}

pub fn expect_status(url: &str, got: (u16, String), want: u16) -> Result<String> {
    if got.0 != want {
        bail!("GET {url} answered {} (want {want}): {}", got.0, got.1.trim());
    }
    Ok(got.1)
}

/// Single-quotes a word for sh: `a'b` becomes `'a'\''b'`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Are we root? (Image builds and /etc edits need it; apt then runs without sudo.)
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mismatch_quotes_body() {
        let err = expect_status("u", (503, "down".into()), 200).unwrap_err().to_string();
        assert!(err.contains("503") && err.contains("down"));
    }

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
    fn now_is_rfc3339_to_the_second() {
        let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap();
        let now = now_rfc3339();
        assert!(re.is_match(&now), "{now}");
    }

    #[test]
    fn random_hex_is_fresh_lowercase_hex() {
        let (a, b) = (random_hex(8).unwrap(), random_hex(8).unwrap());
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn atomic_write_replaces_with_the_mode_and_leaves_nothing_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        write_private(&path, b"one").unwrap();
        write_mode(&path, b"two", 0o640).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["secrets.json"]);
    }
}
