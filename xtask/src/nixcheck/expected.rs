//! What the xtask itself needs inside each image, beyond the commands sandbox.json names: the
//! programs its probes, helpers and scenarios run there. Both image paths must provide them; the
//! drift check (super::drift) holds each path to this list.

use std::collections::BTreeSet;

use crate::table::Spec;

/// Paths where services keep runtime state under another name than their tmpfs's: dockerd
/// writes `/var/run/docker.pid`, which must land on the tmpfs over `/run` (sandbox.json), so
/// `/var/run` must lead there on both image paths, or the pid file outlives a crash again.
pub const RUNTIME_PATHS: &[&str] = &["/var/run"];

/// One requirement: any of these programs (MariaDB's and MySQL's names differ).
pub type Alternatives = &'static [&'static str];

/// Every image: `sh -c` runs the scenarios, `versions` and the DB helpers; `bash` the TCP
/// readiness probes (/dev/tcp); `versions` reads version strings with grep and head; the kube
/// export's containers empty their runtime dirs with rm before they start (export/kube.rs).
const EVERY_IMAGE: &[Alternatives] = &[&["sh"], &["bash"], &["grep"], &["head"], &["rm"]];

/// Per image, from where the xtask runs them.
const PER_IMAGE: &[(&str, &[Alternatives])] = &[
    (
        // data/db-start.sh (mkdir, chown, rm for a first initialisation that never finished, the
        // server and its initialisation), Sandbox::sql (SQL over the socket), the scenarios'
        // db_snapshot action (the dump; scenario/executor.rs).
        "db",
        &[
            &["mkdir"],
            &["chown"],
            &["rm"],
            &["mariadbd", "mysqld"],
            &["mariadb-install-db", "mysqld"],
            &["mariadb", "mysql"],
            &["mariadb-dump", "mysqldump"],
        ],
    ),
    // The guide's tampering step (scenarios/guide.toml) runs in the registry; the exported
    // stack's readiness probe of a registry made with --registry-tls speaks TLS (export/probe.rs).
    ("registry", &[&["cut"], &["sha256sum"], &["dd"], &["openssl"]]),
    // impostor-server's own Notary server: a self-signed certificate, signing with the CLI.
    ("notary", &[&["openssl"], &["notary"], &["mkdir"]]),
    (
        // The scenarios' client steps (scenarios/*.toml), the client-daemon probe and the clock
        // shifts (step/clock.rs: faketime).
        "client",
        &[
            &["docker"],
            &["dockerd"],
            &["notary"],
            &["curl"],
            &["faketime"],
            &["tar"],
            &["mktemp"],
            &["sort"],
            &["wc"],
            &["cut"],
            &["sed"],
            &["dd"],
            &["cat"],
            &["rm"],
            &["sha256sum"],
            // impostor-server: a private /etc/hosts for one command.
            &["unshare"],
            &["mount"],
            &["getent"],
            &["awk"],
        ],
    ),
    // Issue 11's `signers` image (`migrate`, `compare`): its signing tools, run with sh -c.
    ("signers", &[&["cosign"], &["notation"], &["crane"], &["sleep"]]),
    // Issue 18's `consumer` (`compare`, the cutover scenario): the pulls through the kit's policy
    // (migrate/consumer.rs) and the links from /etc/containers into the kit.
    ("consumer", &[&["skopeo"], &["podman"], &["sleep"], &["sha256sum"], &["cut"], &["ln"], &["rm"], &["mkdir"]]),
];

/// Images where a shifted clock runs Go programs under qemu's user-mode emulator for the
/// machine's own architecture, with libfaketime preloaded into the emulator: the client (a
/// scenario step's `clock`) and the signers (`compare`'s freshness row). Every image that ships
/// the emulator is held to it on both paths, and to no other emulator (see [`unwanted`]).
const EMULATED: &[&str] = &["client", "signers"];

/// Programs an image must not carry: what its services never run (images.lock's drop lists on
/// the Debian side, keepPrograms on the Nix side). Besides these, an emulated image carries no
/// emulator but its system's own.
const ABSENT: &[(&str, &[&str])] = &[("client", &["notary-server", "notary-signer", "escrow"])];

/// The programs among `programs` that `image` on `system` should not have.
pub fn unwanted<'a>(image: &str, system: &str, programs: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let absent: Vec<&str> = ABSENT.iter().filter(|(i, _)| *i == image).flat_map(|(_, p)| p.iter().copied()).collect();
    let own = emulator(image, system);
    programs
        .into_iter()
        .filter(|p| {
            absent.contains(&p.as_str())
                || (EMULATED.contains(&image) && p.starts_with("qemu-") && Some(p.as_str()) != own.as_deref())
        })
        .cloned()
        .collect()
}

/// The emulator `image` needs on `system` ("x86_64-linux", "aarch64-linux"), if any.
pub fn emulator(image: &str, system: &str) -> Option<String> {
    let arch = system.split('-').next()?;
    EMULATED.contains(&image).then(|| format!("qemu-{arch}"))
}

/// The system the Debian images are built for: the machine's own.
pub fn host_system() -> String {
    format!("{}-linux", std::env::consts::ARCH)
}

/// Shared libraries the xtask preloads in an image (by file name, anywhere under a lib dir).
const LIBRARIES: &[(&str, &[&str])] = &[("client", &["libfaketime.so.1"]), ("signers", &["libfaketime.so.1"])];

/// Every program requirement of `image`: the list above plus the first word of every command
/// sandbox.json runs there (service commands and the image's Cmd).
pub fn programs(spec: &Spec, image: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut push = |alts: Vec<String>| {
        if !out.contains(&alts) {
            out.push(alts);
        }
    };
    for alts in EVERY_IMAGE {
        push(alts.iter().map(|s| s.to_string()).collect());
    }
    for (_, list) in PER_IMAGE.iter().filter(|(i, _)| *i == image) {
        for alts in *list {
            push(alts.iter().map(|s| s.to_string()).collect());
        }
    }
    let heads = spec
        .services
        .iter()
        .filter(|s| s.image == image)
        .filter_map(|s| s.command.first())
        .chain(spec.images.get(image).and_then(|i| i.cmd.first()));
    for head in heads {
        push(vec![head.clone()]);
    }
    out
}

pub fn libraries(image: &str) -> BTreeSet<String> {
    LIBRARIES.iter().filter(|(i, _)| *i == image).flat_map(|(_, l)| l.iter().map(|s| s.to_string())).collect()
}

/// Every library name the list mentions, to pick out of an image's files.
pub fn all_library_names() -> BTreeSet<String> {
    LIBRARIES.iter().flat_map(|(_, l)| l.iter().map(|s| s.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_commands_and_cmds_are_required_where_they_run() {
        let spec = crate::table::load().unwrap();
        let client = programs(&spec, "client");
        assert!(client.contains(&vec!["dockerd".to_string()]));
        assert!(client.contains(&vec!["sh".to_string()]));
        let notary = programs(&spec, "notary");
        assert!(notary.contains(&vec!["notary-server".to_string()]));
        assert!(notary.contains(&vec!["notary-signer".to_string()]));
        assert!(!notary.contains(&vec!["docker".to_string()]), "client programs stay in the client");
        let db = programs(&spec, "db");
        assert!(db.contains(&vec!["mariadb".to_string(), "mysql".to_string()]));
        // An image listed here but not (yet) in sandbox.json is simply not compared.
        assert!(programs(&spec, "no-such-image").iter().all(|alts| EVERY_IMAGE.iter().any(|e| alts == e)));
    }

    #[test]
    fn the_emulator_matches_the_system() {
        assert_eq!(emulator("signers", "x86_64-linux").as_deref(), Some("qemu-x86_64"));
        assert_eq!(emulator("signers", "aarch64-linux").as_deref(), Some("qemu-aarch64"));
        assert_eq!(emulator("client", "x86_64-linux").as_deref(), Some("qemu-x86_64"));
        assert_eq!(emulator("notary", "x86_64-linux"), None);
    }

    #[test]
    fn a_lean_image_has_one_emulator_and_no_notary_servers() {
        let have: Vec<String> = ["docker", "qemu-x86_64", "qemu-aarch64", "notary", "notary-server", "qemu-img"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(unwanted("client", "x86_64-linux", &have), ["qemu-aarch64", "notary-server", "qemu-img"]);
        assert_eq!(unwanted("client", "aarch64-linux", &have), ["qemu-x86_64", "notary-server", "qemu-img"]);
        assert!(unwanted("notary", "x86_64-linux", &have).is_empty(), "the notary image runs the servers");
    }

    #[test]
    fn every_image_that_preloads_libfaketime_is_held_to_its_emulator() {
        // libfaketime reaches Go programs only through the emulator (step/clock.rs): an image
        // that carries the library for that purpose must carry the emulator too.
        for (image, _) in LIBRARIES {
            assert!(emulator(image, "x86_64-linux").is_some(), "{image} preloads libfaketime without an emulator");
        }
    }

    #[test]
    fn no_requirement_is_listed_twice() {
        let spec = crate::table::load().unwrap();
        for image in spec.images.keys() {
            let p = programs(&spec, image);
            let unique: BTreeSet<_> = p.iter().collect();
            assert_eq!(unique.len(), p.len(), "{image}");
        }
    }
}
