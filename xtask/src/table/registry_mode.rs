//! How a sandbox's registry is reached — plain HTTP (the guide's), or TLS and basic auth (a
//! stand-in for a registry someone owns) — and the table's `when` that mounts a file only in
//! sandboxes of that kind.

use serde::{Deserialize, Serialize};

/// The registry's transport and access, chosen at creation (`up --registry-tls --registry-auth`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryMode {
    /// TLS with a leaf of the sandbox CA; the client's dockerd trusts it through certs.d.
    #[serde(default)]
    pub tls: bool,
    /// htpasswd (bcrypt) basic auth for one account; the password lives in `secrets.json`.
    #[serde(default)]
    pub auth: bool,
}

impl RegistryMode {
    pub fn is_plain(&self) -> bool {
        *self == RegistryMode::default()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The flags that create this mode, as `up` takes them (for messages).
    pub fn flags(&self) -> String {
        let mut f = Vec::new();
        if self.tls {
            f.push("--registry-tls");
        }
        if self.auth {
            f.push("--registry-auth");
        }
        if f.is_empty() {
            "neither --registry-tls nor --registry-auth".to_string()
        } else {
            f.join(" ")
        }
    }
}

/// An option of `up` that a file mount depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    RegistryTls,
    RegistryAuth,
}

impl When {
    pub fn holds(self, mode: RegistryMode) -> bool {
        match self {
            When::RegistryTls => mode.tls,
            When::RegistryAuth => mode.auth,
        }
    }
}
