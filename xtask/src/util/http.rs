//! The one HTTP client.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

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

/// `Basic base64(user:password)`, the value of an `Authorization` header.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}
