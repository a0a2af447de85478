//! The client CLIs' Nix counterparts. A pinned client CLI that names a nixpkgs attribute in
//! images.lock (`nix = "docker_28"`) says: the Nix client image's own docker is this CLI. So that
//! attribute must be the one nix/packages/docker.nix builds the client from
//! (`docker_<docker_cli_max_major>`), and the flake's docker must be that CLI's release on every
//! system. nixpkgs (nixos-25.11) has docker_25 and docker_28: no counterpart of 20.10 or 26.1.

use crate::images::client_cli;
use crate::images::lock::Lock;
use crate::table::Spec;

use super::facts::NixFacts;

/// Every disagreement, one line each; empty when the lock and the flake agree.
pub fn problems(lock: &Lock, spec: &Spec, nix: &NixFacts) -> Vec<String> {
    let mut problems = Vec::new();
    let clis = match client_cli::catalogue(lock) {
        Ok(c) => c,
        Err(e) => return vec![format!("{e:#}")],
    };
    let flake_attr = format!("docker_{}", spec.versions.docker_cli_max_major);
    let with_nix: Vec<&client_cli::Cli> = clis.iter().filter(|c| c.nix.is_some()).collect();
    if with_nix.len() > 1 {
        let ids: Vec<&str> = with_nix.iter().map(|c| c.id.as_str()).collect();
        problems.push(format!(
            "images.lock: client CLIs {} all name a Nix counterpart; the Nix client has one docker",
            ids.join(", ")
        ));
    }
    for cli in with_nix {
        let attr = cli.nix.as_deref().unwrap_or_default();
        if attr != flake_attr {
            problems.push(format!(
                "images.lock: client CLI {}'s Nix counterpart is {attr}, but the Nix client runs {flake_attr} (nix/packages/docker.nix)",
                cli.id
            ));
        }
        for (system, out) in nix {
            let flake_id: String = out.docker.split('.').take(2).collect::<Vec<_>>().join(".");
            if flake_id != cli.id {
                problems.push(format!(
                    "{system}: the flake's docker is {}, but images.lock makes it the counterpart of client CLI {} (docker {}): move the pin or the flake together",
                    out.docker, cli.id, cli.release
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::nixcheck::facts::NixSystem;

    fn facts(docker: &str) -> NixFacts {
        let system = NixSystem {
            packages: BTreeMap::new(),
            apps: BTreeMap::new(),
            dev_shells: BTreeMap::new(),
            checks: BTreeMap::new(),
            images: BTreeMap::new(),
            docker: docker.into(),
            e2e_test_script: None,
        };
        ["x86_64-linux", "aarch64-linux"].into_iter().map(|s| (s.to_string(), system.clone())).collect()
    }

    #[test]
    fn the_shipped_lock_and_the_stand_in_flake_agree() {
        let (lock, spec) = (crate::images::lock::load().unwrap(), crate::table::load().unwrap());
        // What the stand-in nixpkgs (nix/offline/stub-pkgs.nix) gives docker_28.
        assert!(problems(&lock, &spec, &facts("28.5.2")).is_empty());
    }

    #[test]
    fn a_moved_pin_or_flake_is_named() {
        let (lock, spec) = (crate::images::lock::load().unwrap(), crate::table::load().unwrap());
        let p = problems(&lock, &spec, &facts("28.4.0"));
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(p[0].contains("the flake's docker is 28.4.0") && p[0].contains("client CLI 28.5"), "{p:#?}");

        let mut other = lock.clone();
        other.client_clis.get_mut("28.5").unwrap().nix = Some("docker_25".into());
        let p = problems(&other, &spec, &facts("28.5.2"));
        assert!(p.iter().any(|l| l.contains("counterpart is docker_25, but the Nix client runs docker_28")), "{p:#?}");

        let mut two = lock.clone();
        two.client_clis.get_mut("26.1").unwrap().nix = Some("docker_28".into());
        let p = problems(&two, &spec, &facts("28.5.2"));
        assert!(p.iter().any(|l| l.contains("26.1, 28.5 all name a Nix counterpart")), "{p:#?}");
    }
}
