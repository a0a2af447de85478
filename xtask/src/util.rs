//! The small helpers every part shares, each once: files written atomically, the clock, random
//! bytes, HTTP, and what a command returned.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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

pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp~");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .context("reading /dev/urandom")?;
    Ok(crate::util::hex(&buf))
}

fn agent(ca_pem: Option<&[u8]>) -> Result<ureq::Agent> {
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
    get(&agent(Some(&pem))?, url)
}

pub fn http_get(url: &str) -> Result<(u16, String)> {
    get(&agent(None)?, url)
}

fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String)> {
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
}
