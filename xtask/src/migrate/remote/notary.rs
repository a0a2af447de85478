//! A Notary server's read API, the one route DCT clients use (notary's `server/server.go`):
//! `GET /v2/<gun>/_trust/tuf/<role>.json` for root, targets, snapshot, timestamp and every
//! delegation `targets/<name>`. The API has no listing of repositories.
//!
//! One thing a read can change on the server: notary-server re-signs and stores a timestamp (and
//! a server-managed snapshot) that has expired when one is asked for (`GetOrCreateTimestamp`), as
//! it does for every DCT client's pull.

use anyhow::{bail, Result};

use super::http::Endpoint;
use crate::tuf::verify::Source;

pub struct Repository<'a> {
    pub notary: &'a Endpoint,
    pub gun: String,
}

impl Source for Repository<'_> {
    fn fetch(&mut self, role: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let path = format!("/v2/{}/_trust/tuf/{role}.json", self.gun);
        let scope = format!("repository:{}:pull", self.gun);
        let r = self.notary.request(false, &path, &["application/json"], &scope, limit)?;
        match r.status {
            200 => Ok(Some(r.body)),
            404 => Ok(None),
            s => bail!(
                "{} {} answered {s} for {path}: {}",
                self.notary.what,
                self.notary.base,
                String::from_utf8_lossy(&r.body).trim().chars().take(200).collect::<String>()
            ),
        }
    }
}
