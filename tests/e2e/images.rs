//! The Debian images: two independent builds (each from an empty cache of its own, .debs
//! included) load as identical image IDs, and the lean client stays lean. Both builds go to
//! throwaway repositories (`images build --repo`), never the `localhost/trust-sandbox/` images
//! that running sandboxes use, and are removed at the end.

use std::process::Command;

use trust_sandbox_tests::{require_engine, run, workspace_root, xtask_bin, Run};

const ENGINE: &str = "docker";

/// Removes a throwaway repository's images, whatever the test did.
struct Repo(String);

impl Drop for Repo {
    fn drop(&mut self) {
        let listed = Command::new(ENGINE)
            .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ours: Vec<&str> = listed.lines().filter(|l| l.starts_with(&format!("{}/", self.0))).collect();
        if !ours.is_empty() {
            let _ = Command::new(ENGINE).arg("rmi").args(&ours).output();
        }
    }
}

fn build(cache: &std::path::Path, repo: &str) -> Run {
    let mut c = Command::new(xtask_bin());
    c.args(["sandbox", "--engine", ENGINE, "images", "build", "--images", "debian", "--json", "--repo", repo])
        .arg("--cache-dir")
        .arg(cache)
        .env("NO_COLOR", "1");
    run(&mut c, None)
}

#[test]
fn two_independent_builds_give_identical_image_ids_and_a_lean_client() {
    require_engine(ENGINE);
    let pid = std::process::id();
    let (a, b) = (Repo(format!("localhost/tse2e-repro-{pid}-a")), Repo(format!("localhost/tse2e-repro-{pid}-b")));
    let (cache_a, cache_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let first = build(cache_a.path(), &a.0);
    first.assert_ok("the first build");
    let second = build(cache_b.path(), &b.0);
    second.assert_ok("the second, independent build");
    // Each built everything itself: its own base, its own .debs.
    for (run, cache) in [(&first, &cache_a), (&second, &cache_b)] {
        assert!(run.stderr.contains("Building the base"), "{}", run.stderr);
        assert!(cache.path().join("debs").read_dir().unwrap().count() > 50, "the .debs were fetched anew");
    }

    let (one, two) = (first.json(), second.json());
    let images = one.as_array().unwrap();
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("xtask/data/sandbox.json")).unwrap())
            .unwrap();
    let in_table = table["images"].as_object().unwrap().len();
    assert!(in_table >= 6, "sandbox.json's images: {in_table}");
    assert_eq!(images.len(), in_table, "every image of sandbox.json: {one}");
    for (x, y) in images.iter().zip(two.as_array().unwrap()) {
        assert_eq!(x["image"], y["image"]);
        assert!(x["reference"].as_str().unwrap().starts_with(&format!("{}/", a.0)));
        assert!(y["reference"].as_str().unwrap().starts_with(&format!("{}/", b.0)));
        assert_eq!(x["id"], y["id"], "image {} differs between two builds", x["image"]);
    }

    // The client holds one emulator and no notary servers, and that makes it small.
    let client = images.iter().find(|i| i["image"] == "client").unwrap();
    let reference = client["reference"].as_str().unwrap();
    let mut ls = Command::new(ENGINE);
    ls.args(["run", "--rm", "--network", "none", "--entrypoint", "sh", reference, "-c"])
        .arg("ls /usr/bin | grep -E '^(qemu-|notary|escrow)' | tr '\\n' ' '");
    let listed = run(&mut ls, None);
    listed.assert_ok("listing the client's programs");
    let arch = std::env::consts::ARCH;
    assert_eq!(listed.stdout.trim(), format!("notary qemu-{arch}"), "the client's emulators and notary programs");
    let mb = client["size_mb"].as_f64().unwrap();
    assert!(mb <= 300.0, "the client is {mb:.0} MB");
}
