//! Readiness: `poll` retries a probe until it passes or the timeout ends, then reports the last
//! error (the one that explains what is wrong), never just "timed out".

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        match probe() {
            Ok(v) => return Ok(v),
            Err(err) if started.elapsed() >= timeout => {
                bail!("{what} not ready after {:.0} s; last error: {err:#}", timeout.as_secs_f64())
            }
            Err(_) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(150));
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_returns_first_success() {
        let mut n = 0;
        let v = poll("thing", Duration::from_secs(5), || {
            n += 1;
            if n < 3 {
                bail!("not yet {n}")
            }
            Ok(n)
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn poll_reports_the_last_error() {
        let mut n = 0;
        let err = poll::<()>("signer", Duration::from_millis(120), || {
            n += 1;
            bail!("connection refused #{n}")
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("signer not ready after"), "{err}");
        assert!(err.contains(&format!("connection refused #{n}")), "{err}");
    }

    #[test]
    fn status_mismatch_quotes_body() {
        let err = expect_status("u", (503, "down".into()), 200).unwrap_err().to_string();
        assert!(err.contains("503") && err.contains("down"));
    }
}
