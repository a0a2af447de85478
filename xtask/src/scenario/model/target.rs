//! Where a step runs (`on`): a service of the stack, named as in sandbox.json and checked against
//! it as the scenario file is read, the engine itself, or a container the scenario declares.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::table;

/// Where a step runs: a service of the stack, the engine, or a container the scenario declares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum Target {
    /// A service of the stack, by its name in sandbox.json.
    Service(ServiceName),
    /// The container engine itself: only `action` steps run here.
    Engine,
    /// One of the scenario's own `[[containers]]`, by name.
    Container(String),
}

/// What `on` says for the engine.
const ENGINE: &str = "engine";

impl Default for Target {
    /// The client: where the guide's commands run.
    fn default() -> Target {
        Target::Service(ServiceName::client())
    }
}

impl Target {
    /// The names `on` takes for the stack's services (sandbox.json's, in its order) and the engine.
    pub fn builtin_names() -> Vec<&'static str> {
        let mut names = table::embedded().service_names();
        names.push(ENGINE);
        names
    }

    pub fn as_str(&self) -> &str {
        match self {
            Target::Service(s) => s.as_str(),
            Target::Engine => ENGINE,
            Target::Container(name) => name,
        }
    }

    /// The service a target names; `None` for the engine and declared containers.
    pub fn service(&self) -> Option<&ServiceName> {
        match self {
            Target::Service(s) => Some(s),
            Target::Engine | Target::Container(_) => None,
        }
    }

    /// Whether the step runs in the client, with its trust environment and identities.
    pub fn is_client(&self) -> bool {
        self.service().is_some_and(|s| *s == ServiceName::client())
    }
}

impl From<String> for Target {
    fn from(s: String) -> Target {
        if s == ENGINE {
            return Target::Engine;
        }
        match ServiceName::try_from(s) {
            Ok(service) => Target::Service(service),
            Err(UnknownService(s)) => Target::Container(s),
        }
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.as_str().to_string()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service of the stack, by its name in sandbox.json: a name the table lacks is refused when
/// the scenario file is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceName(String);

/// A name that is no service of the table (given back whole).
#[derive(Debug)]
pub struct UnknownService(String);

impl fmt::Display for UnknownService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown service `{}`; the services are: {}", self.0, table::embedded().service_names().join(", "))
    }
}

impl ServiceName {
    /// The client, the service that runs its own docker engine.
    pub fn client() -> ServiceName {
        ServiceName(table::embedded().client().expect("sandbox.json has a client (unit-tested)").name.clone())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServiceName {
    type Error = UnknownService;

    fn try_from(s: String) -> Result<ServiceName, UnknownService> {
        match table::embedded().services.iter().any(|svc| svc.name == s) {
            true => Ok(ServiceName(s)),
            false => Err(UnknownService(s)),
        }
    }
}

impl From<ServiceName> for String {
    fn from(s: ServiceName) -> String {
        s.0
    }
}

#[cfg(test)]
impl Target {
    /// The target `on = "<name>"` reads as.
    pub fn named(name: &str) -> Target {
        Target::from(name.to_string())
    }
}

#[cfg(test)]
impl ServiceName {
    pub fn named(name: &str) -> ServiceName {
        ServiceName::try_from(name.to_string()).expect("a service of the table")
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
