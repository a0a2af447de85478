use super::*;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_choice_is_an_id_or_a_file() {
    assert_eq!(Choice::parse("26.1").unwrap(), Choice::Pinned("26.1".into()));
    assert_eq!(Choice::parse("file:/usr/local/bin/docker").unwrap(), Choice::File("/usr/local/bin/docker".into()));
    let Choice::File(rel) = Choice::parse("file:bin/docker").unwrap() else { panic!() };
    assert!(rel.is_absolute() && rel.ends_with("bin/docker"), "{}", rel.display());
    for bad in ["", "29", "latest", "26.1.5", "file:", "v26.1"] {
        let err = Choice::parse(bad).unwrap_err();
        assert!(err.contains("file:"), "{bad}: {err}");
    }
    // What the state file keeps reads back the same.
    let c = Choice::File("/opt/docker".into());
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(json, "\"file:/opt/docker\"");
    assert_eq!(serde_json::from_str::<Choice>(&json).unwrap(), c);
}

#[test]
fn releases_and_ids_come_from_debian_versions() {
    assert_eq!(release_of("20.10.24+dfsg1-1+deb12u1+b6"), "20.10.24");
    assert_eq!(release_of("26.1.5+dfsg1-9+deb13u1+b1"), "26.1.5");
    assert_eq!(release_of("1:28.5.2~rc1-1"), "28.5.2");
    assert_eq!(id_of("28.5.2"), "28.5");
    assert!(is_id("20.10") && is_id("28.5"));
    assert!(!is_id("28") && !is_id("28.5.2") && !is_id("a.b") && !is_id(".5"));
}

#[test]
fn the_shipped_catalogue_is_20_10_26_1_and_28_5() {
    let lock = crate::images::lock::load().unwrap();
    let all = catalogue(&lock).unwrap();
    let ids: Vec<(&str, bool)> = all.iter().map(|c| (c.id.as_str(), c.own)).collect();
    assert_eq!(ids, [("20.10", true), ("26.1", false), ("28.5", false)]);
    assert_eq!(all[1].suite, "trixie");
    assert_eq!(all[1].version, "26.1.5+dfsg1-9+deb13u1+b1");
    assert_eq!(all[2].suite, "forky");
    assert_eq!(all[2].version, "28.5.2+dfsg4-5");
    // Only 28.5 has a Nix counterpart: the Nix client's docker_28.
    let nix: Vec<Option<&str>> = all.iter().map(|c| c.nix.as_deref()).collect();
    assert_eq!(nix, [None, None, Some("docker_28")]);
    assert!(all[0].describe().contains("the client image's own"), "{}", all[0].describe());
}

#[test]
fn a_pin_must_be_the_release_its_id_names() {
    let mut lock = crate::images::lock::load().unwrap();
    lock.client_clis.get_mut("26.1").unwrap().version = "27.5.1+dfsg1-1".into();
    let err = catalogue(&lock).unwrap_err().to_string();
    assert!(err.contains("which is docker 27.5.1, not 26.1"), "{err}");
    let text = crate::images::lock::load()
        .unwrap()
        .render()
        .unwrap()
        .replace("[client_clis.\"26.1\"]", "[client_clis.\"26\"]");
    assert!(crate::images::lock::parse(&text).unwrap_err().to_string().contains("MAJOR.MINOR"));
}

#[test]
fn the_version_line_of_each_kind_of_build_is_read() {
    let v = |t: &str| reported_release(t).map(|v| v.to_string());
    assert_eq!(v("Docker version 28.2.2, build e6534b4").as_deref(), Some("28.2.2"));
    assert_eq!(v("Docker version 26.1.5+dfsg1, build a72d7cd").as_deref(), Some("26.1.5"));
    assert_eq!(v("Docker version 20.10.24+dfsg1, build 297e128\n").as_deref(), Some("20.10.24"));
    assert_eq!(v("podman version 4.3.1"), None);
}

#[test]
fn docker_29_is_refused_with_the_reason() {
    assert!(check_supported("x", 28, 28).is_ok());
    assert!(check_supported("x", 20, 28).is_ok());
    let err = check_supported("/opt/docker", 29, 28).unwrap_err().to_string();
    for needle in [
        "/opt/docker is docker CLI 29",
        "DOCKER_CONTENT_TRUST",
        "docker/cli#6603",
        "docker/cli#6733",
        "--client-cli 28.5",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn plans_are_checked_before_anything_starts() {
    let spec = crate::table::load().unwrap();
    let lock = crate::images::lock::load().unwrap();
    assert_eq!(plan(&spec, &lock, None).unwrap(), Plan::Default);
    let Plan::Pinned(c) = plan(&spec, &lock, Some(&Choice::Pinned("26.1".into()))).unwrap() else { panic!() };
    assert_eq!(c.release, "26.1.5");
    let err = plan(&spec, &lock, Some(&Choice::Pinned("27.3".into()))).unwrap_err().to_string();
    assert!(err.contains("no pinned client CLI `27.3`") && err.contains("20.10, 26.1, 28.5"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let ok = script(dir.path(), "docker28", "echo 'Docker version 28.2.2, build e6534b4'");
    let Plan::File { release, sha256, path } = plan(&spec, &lock, Some(&Choice::File(ok.clone()))).unwrap() else {
        panic!()
    };
    assert_eq!((release.to_string(), path), ("28.2.2".to_string(), ok));
    assert!(sha256.starts_with("sha256:"));
    let new = script(dir.path(), "docker29", "echo 'Docker version 29.1.3, build f52814d'");
    let err = format!("{:#}", plan(&spec, &lock, Some(&Choice::File(new))).unwrap_err());
    assert!(err.contains("is docker CLI 29") && err.contains("docker/cli#6603"), "{err}");
    let other = script(dir.path(), "podman", "echo 'podman version 4.3.1'");
    let err = format!("{:#}", plan(&spec, &lock, Some(&Choice::File(other))).unwrap_err());
    assert!(err.contains("printed no `Docker version X.Y.Z`: podman version 4.3.1"), "{err}");
    let plain = dir.path().join("not-executable");
    std::fs::write(&plain, "x").unwrap();
    let err = format!("{:#}", plan(&spec, &lock, Some(&Choice::File(plain))).unwrap_err());
    assert!(err.contains("not an executable file"), "{err}");
    let err = format!("{:#}", plan(&spec, &lock, Some(&Choice::File(dir.path().join("nope")))).unwrap_err());
    assert!(err.contains("no such file"), "{err}");
}

#[test]
fn the_layer_holds_the_binary_alone_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let bin = script(dir.path(), "docker", "echo hi");
    let mut a = Vec::new();
    write_layer(&mut a, &bin).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut b = Vec::new();
    write_layer(&mut b, &bin).unwrap();
    assert_eq!(a, b, "the file's own mode and times do not reach the layer");
    assert_eq!(layer::list(&a[..]).unwrap(), ["usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/docker"]);
    for entry in tar::Archive::new(&a[..]).entries().unwrap() {
        let h = entry.unwrap().header().clone();
        assert_eq!((h.mode().unwrap(), h.uid().unwrap(), h.mtime().unwrap()), (0o755, 0, debian::SOURCE_DATE_EPOCH));
    }
}

#[test]
fn a_variant_is_named_by_its_client_and_its_cli() {
    let lock = crate::images::lock::load().unwrap();
    let cli = |id: &str| catalogue(&lock).unwrap().into_iter().find(|c| c.id == id).unwrap();
    let (name, tag) = variant_name(&Plan::Pinned(cli("26.1")), "aaaa").unwrap();
    assert_eq!(name, "client-cli-26.1");
    assert_eq!(tag.len(), 12);
    assert_ne!(tag, variant_name(&Plan::Pinned(cli("26.1")), "bbbb").unwrap().1, "a new client image");
    assert_ne!(tag, variant_name(&Plan::Pinned(cli("28.5")), "aaaa").unwrap().1);
    let file = Plan::File { path: "/x".into(), sha256: "sha256:00".into(), release: semver::Version::new(28, 2, 2) };
    assert_eq!(variant_name(&file, "aaaa").unwrap().0, "client-cli-file");
    assert!(variant_name(&Plan::Default, "aaaa").is_err());

    let current = variant_name(&Plan::Pinned(cli("28.5")), &lock.tag("client").unwrap()).unwrap().1;
    assert!(is_current(&lock, "client-cli-28.5", &current));
    assert!(!is_current(&lock, "client-cli-28.5", "000000000000"));
    assert!(!is_current(&lock, "client-cli-20.10", &current), "the image's own CLI has no variant");
    assert!(is_current(&lock, "client-cli-file", "whatever"));
    assert!(!is_current(&lock, "client", &current));
}
