//! Client identities: the default client, and second identities (alice, bob, …) that scenario
//! steps and `exec --identity` run as, each with its own docker configuration and trust directory
//! in the same client container. Which names an identity may have is `sandbox::name`'s rule.

/// The default client's trust directory: its cache (`tuf/`) and private keys (`private/`).
pub const CLIENT_TRUST_DIR: &str = "/root/.docker/trust";
/// Second identities keep their docker configuration on the client's trust volume, so it
/// survives `down`: `<this>/<name>` is the identity's DOCKER_CONFIG.
pub const IDENTITIES_DIR: &str = "/root/.docker/trust/identities";

/// The trust directory of the default client (`None`) or of a second identity.
pub fn trust_dir(identity: Option<&str>) -> String {
    match identity {
        None => CLIENT_TRUST_DIR.to_string(),
        Some(id) => format!("{IDENTITIES_DIR}/{id}/trust"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_live_on_the_clients_trust_volume() {
        assert!(IDENTITIES_DIR.starts_with(&format!("{CLIENT_TRUST_DIR}/")));
        assert_eq!(trust_dir(None), "/root/.docker/trust");
        assert_eq!(trust_dir(Some("bob")), "/root/.docker/trust/identities/bob/trust");
        // The client's trust volume is mounted where these paths point.
        let spec = crate::table::load().unwrap();
        assert!(spec.client().unwrap().volumes.iter().any(|v| v.target == CLIENT_TRUST_DIR));
    }
}
