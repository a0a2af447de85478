//! The Nix image path and the xtask read one data file: this fails if they drift apart.

use std::process::Command;

use trust_sandbox_tests::{run, workspace_root};

#[test]
fn nix_lib_agrees_with_the_service_table() {
    // nix/lib.nix needs no nixpkgs, so Debian's nix-instantiate evaluates it here.
    let r = run(
        Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E", "(import ./nix/lib.nix).summary"])
            .current_dir(workspace_root()),
        None,
    );
    assert!(r.ok(), "nix-instantiate failed (install nix-bin; .ci/run does): {}", r.stderr);
    let nix: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let text = std::fs::read_to_string(workspace_root().join("xtask/data/sandbox.json")).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&text).unwrap();

    let images = spec["images"].as_object().unwrap();
    for (name, image) in images {
        let n = &nix["images"][name];
        assert_eq!(n["cmd"], image["cmd"], "Cmd of image {name}");
        assert_eq!(n["ref"], format!("trust-sandbox/{name}:nix"), "{name}");
        assert_eq!(n["nixFileExists"], true, "nix/images/{name}.nix missing");
        let users: Vec<&str> = spec["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["image"] == name.as_str())
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        let nix_users: Vec<&str> = n["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(nix_users, users, "services of image {name}");
        for s in spec["services"].as_array().unwrap().iter().filter(|s| s["image"] == name.as_str()) {
            let program = s["command"][0].as_str().unwrap();
            assert!(n["commands"].as_array().unwrap().iter().any(|c| c == program), "image {name} lacks {program}");
        }
    }
    assert_eq!(nix["images"].as_object().unwrap().len(), images.len(), "every image, no other");
    assert_eq!(nix["versions"], spec["versions"]);
}
