//! The Nix check (`cargo xtask nix-check`): a current Nix, installed by the xtask in a throwaway
//! root, checks and instantiates the flake against the stand-in nixpkgs, and the drift check
//! compares the Nix images with the Debian images the xtask loads. Each failure test changes one
//! side only — a copy of the flake, or a copy of the Debian side's facts — and the check must
//! fail naming that change.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use trust_sandbox_tests::{run, workspace_root, xtask_bin, Run};

fn nix_check(args: &[&str]) -> Run {
    run(Command::new(xtask_bin()).arg("nix-check").arg("--yes").args(args), None)
}

/// The files a flake sees (git's tracked ones) copied to a fresh directory.
fn flake_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let listed = Command::new("git").args(["ls-files", "-z"]).current_dir(workspace_root()).output().unwrap();
    assert!(listed.status.success(), "git ls-files failed");
    for rel in String::from_utf8(listed.stdout).unwrap().split('\0').filter(|p| !p.is_empty()) {
        let from = workspace_root().join(rel);
        if !from.is_file() {
            continue;
        }
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    dir
}

/// Replaces `from` by `to` in `file` under `root`; the text must be there, so the change is real.
#[track_caller]
fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} no longer contains {from:?}: update this test");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// A passing run's facts (Nix and Debian) in a fresh directory.
fn facts() -> (tempfile::TempDir, Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    nix_check(&["--facts-out", dir.path().to_str().unwrap()]).assert_ok("nix-check");
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    let (nix, debian) = (read("nix-facts.json"), read("debian-facts.json"));
    (dir, nix, debian)
}

#[test]
fn a_current_nix_checks_the_flake_and_the_two_image_paths_agree() {
    let dir = tempfile::tempdir().unwrap();
    let r = nix_check(&["--facts-out", dir.path().to_str().unwrap()]);
    r.assert_ok("nix-check");
    // The Nix the xtask installed, not Debian bookworm's 2.8 (nixpkgs 25.11 needs 2.18).
    assert!(r.stderr.contains("nix (Nix) 2.26.3"), "{}", r.stderr);
    assert!(r.stderr.contains("Nix and Debian images agree"), "{}", r.stderr);
    // Every mount (store, /tmp, /proc, the flake) lived in the command's own namespace.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("/nix-root/"), "the Nix root is still mounted:\n{mounts}");

    let nix: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("nix-facts.json")).unwrap()).unwrap();
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("xtask/data/sandbox.json")).unwrap())
            .unwrap();
    for system in ["x86_64-linux", "aarch64-linux"] {
        let out = &nix[system];
        for kind in ["packages", "devShells", "checks"] {
            let drvs = out[kind].as_object().unwrap_or_else(|| panic!("{system}: no {kind}"));
            assert!(!drvs.is_empty(), "{system}: {kind}");
            for (name, drv) in drvs {
                let drv = drv.as_str().unwrap();
                assert!(drv.starts_with("/nix/store/") && drv.ends_with(".drv"), "{system}.{kind}.{name}: {drv}");
            }
        }
        assert!(out["apps"]["default"].as_str().unwrap().ends_with("/bin/sandbox"));
        for (image, declared) in spec["images"].as_object().unwrap() {
            let img = &out["images"][image];
            assert_eq!(img["config"]["Cmd"], declared["cmd"], "{system}: Cmd of {image}");
            assert_eq!(img["imageName"], format!("trust-sandbox/{image}"));
        }
    }
    // The Debian side comes from the real layers: a whole Debian userland on each image's PATH.
    let debian: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("debian-facts.json")).unwrap()).unwrap();
    let client = debian["client"]["programs"].as_array().unwrap();
    assert!(client.len() > 100, "{} programs in the Debian client", client.len());
    for program in ["docker", "dockerd", "notary", "curl", "faketime", "sh"] {
        assert!(client.iter().any(|p| p == program), "Debian client lacks {program}");
    }
    // Lean: the drop lists took the notary servers and every emulator but the machine's own.
    let qemu: Vec<&str> = client.iter().filter_map(|p| p.as_str()).filter(|p| p.starts_with("qemu-")).collect();
    assert_eq!(qemu, [format!("qemu-{}", std::env::consts::ARCH)]);
    assert!(!client.iter().any(|p| p == "notary-server" || p == "notary-signer"));
}

#[test]
fn a_change_to_the_nix_images_alone_fails_the_drift_check() {
    let (facts_dir, _, _) = facts();
    let debian = facts_dir.path().join("debian-facts.json");
    let debian = debian.to_str().unwrap();
    // Each change leaves no unused Nix code behind, so deadnix passes and the drift check speaks.
    type Edits = &'static [(&'static str, &'static str)];
    let cases: [(&str, Edits, &str); 4] = [
        (
            "nix/images/client.nix",
            &[("  curl,\n", ""), ("    curl\n", "")],
            "client (x86_64-linux): the Nix image has no curl on its PATH",
        ),
        (
            // The whole notary package instead of its CLI: the client would carry the servers.
            "nix/images/client.nix",
            &[("(keepPrograms notary [ \"notary\" ])", "notary")],
            "client (x86_64-linux): the Nix image carries notary-server, notary-signer",
        ),
        (
            "nix/images/common.nix",
            &[("    WorkingDir = \"/\";", "    WorkingDir = \"/\";\n    Entrypoint = [ \"/bin/sh\" ];")],
            "Entrypoint: Nix [\"/bin/sh\"], Debian unset",
        ),
        (
            "nix/images/common.nix",
            &[("\"HOME=/root\"", "\"HOME=/root\"\n      \"DOCKER_CONTENT_TRUST=0\"")],
            "Env DOCKER_CONTENT_TRUST: Nix 0, Debian unset",
        ),
    ];
    for (file, edits, needle) in cases {
        let copy = flake_copy();
        for (from, to) in edits {
            edit(copy.path(), file, from, to);
        }
        let r = nix_check(&["--flake", copy.path().to_str().unwrap(), "--debian-facts", debian]);
        r.assert_fails_with(&format!("nix-check after editing {file}"), needle);
        assert!(r.stderr.contains("drifted apart"), "{}", r.stderr);
    }
    // The unchanged copy passes against the same Debian facts: the edit alone made the difference.
    let copy = flake_copy();
    nix_check(&["--flake", copy.path().to_str().unwrap(), "--debian-facts", debian]).assert_ok("unchanged copy");
}

#[test]
fn a_change_to_the_debian_images_alone_fails_the_drift_check() {
    let (dir, _, debian) = facts();
    type Change = fn(&mut Value);
    let cases: [(Change, &str); 5] = [
        (|d| d["client"]["config"]["Cmd"] = serde_json::json!(["dockerd", "--debug"]), "the Debian image's Cmd is"),
        (
            // A drop list that lost its emulators: the client would carry qemu-user's 35.
            |d| d["client"]["programs"].as_array_mut().unwrap().push("qemu-mips".into()),
            "the Debian image carries qemu-mips",
        ),
        (
            |d| {
                let p = d["client"]["programs"].as_array_mut().unwrap();
                p.retain(|x| x != "notary");
            },
            "the Debian image has no notary on its PATH",
        ),
        (
            |d| d["registry"]["config"]["ExposedPorts"] = serde_json::json!({"5000/tcp": {}}),
            "ExposedPorts: Nix unset, Debian {\"5000/tcp\":{}}",
        ),
        (
            |d| {
                let l = d["client"]["libraries"].as_array_mut().unwrap();
                l.clear();
            },
            "the Debian image has no libfaketime.so.1",
        ),
    ];
    for (change, needle) in cases {
        let mut changed = debian.clone();
        change(&mut changed);
        assert_ne!(changed, debian);
        let file: PathBuf = dir.path().join("changed.json");
        std::fs::write(&file, serde_json::to_vec(&changed).unwrap()).unwrap();
        let r = nix_check(&["--debian-facts", file.to_str().unwrap()]);
        r.assert_fails_with("nix-check with changed Debian facts", needle);
    }
    // The written facts, read back unchanged, pass: the reading is not what fails.
    let same = dir.path().join("debian-facts.json");
    nix_check(&["--debian-facts", same.to_str().unwrap()]).assert_ok("nix-check with the facts as written");
}

#[test]
fn the_vm_test_evaluates_for_both_engines_and_its_script_is_python() {
    let (_dir, nix, _) = facts();
    for system in ["x86_64-linux", "aarch64-linux"] {
        let drv = nix[system]["checks"]["e2e"].as_str().unwrap_or_else(|| panic!("{system}: no checks.e2e"));
        assert!(drv.ends_with("-vm-test-run-trust-sandbox-e2e.drv"), "{drv}");
        let script = nix[system]["e2eTestScript"].as_str().unwrap();
        for needle in
            ["(podman, \"podman\")", "(docker, \"docker\")", "up --images nix", " play\"", "scenario run --all"]
        {
            assert!(script.contains(needle), "{system}: the VM test script lacks {needle}:\n{script}");
        }
        let compiled = run(
            Command::new("python3").args(["-c", "import sys; compile(sys.stdin.read(), 'testScript', 'exec')"]),
            Some(script),
        );
        compiled.assert_ok("compiling the VM test script");
    }
    // A mistyped NixOS option fails evaluation, as it would against the real nixpkgs.
    let copy = flake_copy();
    edit(copy.path(), "nix/checks/e2e.nix", "memorySize = 4096;", "memorySise = 4096;");
    nix_check(&["--flake", copy.path().to_str().unwrap()]).assert_fails_with(
        "nix-check with a mistyped VM option",
        "unknown option or wrong type: virtualisation.memorySise",
    );
}

#[test]
fn errors_only_a_current_nix_reports_fail_the_check() {
    // Nix 2.8's parse-only check passed this; `nix flake check` refuses it.
    let copy = flake_copy();
    edit(copy.path(), "nix/apps.nix", "    type = \"app\";", "    type = \"app\";\n    extra = 1;");
    nix_check(&["--flake", copy.path().to_str().unwrap()])
        .assert_fails_with("nix-check with an extra app attribute", "unsupported attribute 'extra'");
}

#[test]
fn unused_nix_code_fails_the_check() {
    let copy = flake_copy();
    edit(copy.path(), "nix/images/notary.nix", "  notary,\n", "  notary,\n  curl,\n");
    nix_check(&["--flake", copy.path().to_str().unwrap()])
        .assert_fails_with("nix-check with an unused argument", "deadnix");
}

#[test]
fn a_future_pin_without_docker_28_or_with_a_newer_one_names_the_fix() {
    let cases = [
        // As on nixpkgs master, where the attribute is an alias that throws.
        ("  docker_28 = mkDrv", "  docker_28 = throw \"docker_28 has been removed\" mkDrv", "has no usable docker_28"),
        ("    version = \"28.5.2\";", "    version = \"29.0.0\";", "is docker 29.0.0, newer than 28"),
    ];
    for (from, to, needle) in cases {
        let copy = flake_copy();
        edit(copy.path(), "nix/offline/stub-pkgs.nix", from, to);
        let r = nix_check(&["--flake", copy.path().to_str().unwrap()]);
        r.assert_fails_with("nix-check at a pin without docker 28", needle);
        assert!(r.stderr.contains("Fix it in nix/packages/docker.nix"), "{}", r.stderr);
    }
}
