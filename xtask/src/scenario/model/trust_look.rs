//! A step's `trust`: which repository's trust tree the HTML report shows around the step, and
//! from whose side.

use serde::{Deserialize, Serialize};

/// Whose trust data a step's report shows: `trust = "{{registry}}/test/rotate"` is the Notary
/// server's (compared with the client's cache); `trust = { repository = "…", identity = "bob" }`
/// is bob's cache (compared with the server).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TrustLook {
    Server(String),
    Cache { repository: String, identity: String },
}

impl TrustLook {
    pub fn repository(&self) -> &str {
        match self {
            TrustLook::Server(r) | TrustLook::Cache { repository: r, .. } => r,
        }
    }

    pub fn identity(&self) -> Option<&str> {
        match self {
            TrustLook::Server(_) => None,
            TrustLook::Cache { identity, .. } => Some(identity),
        }
    }
}
