//! The labels on everything the tool creates: how `down`, `destroy` and `up` find their own,
//! and how `ownership` tells whose an object is.

pub const LABEL_INSTANCE: &str = "io.trust-sandbox.instance";
pub const LABEL_ID: &str = "io.trust-sandbox.id";
pub const LABEL_SERVICE: &str = "io.trust-sandbox.service";
pub const LABEL_CONFIG: &str = "io.trust-sandbox.config-hash";
/// The state directory that created an object: a sandbox belongs to exactly one (see `ownership`).
pub const LABEL_STATE: &str = "io.trust-sandbox.state";
