use super::*;

fn builder(lock: &Lock) -> Builder<'_> {
    Builder { lock, cache_dir: "/c".into(), mirrors: vec![] }
}

#[test]
fn image_argv_pins_every_package_and_ends_with_suite_target_sources() {
    let lock = crate::images::lock::load().unwrap();
    let a = builder(&lock).image_argv("notary", Path::new("/m"), Path::new("/s.sources"), true).unwrap();
    let install = a.iter().find(|s| s.contains("apt-get")).unwrap();
    assert!(install.contains("'notary=0.7.0+ds1-2+b6'"), "{install}");
    assert!(install.contains("'ca-certificates=20250419~deb12u2'"), "{install}");
    assert_eq!(&a[a.len() - 3..], ["bookworm", "/m", "/s.sources"]);
    assert!(a.contains(&"--variant=custom".to_string()));
    assert!(a.contains(&"--skip=update".to_string()));
    assert!(a.last_chunk::<4>().unwrap()[0].contains("/etc/trust-sandbox-image"));
    assert!(a.contains(&"--dpkgopt=path-exclude=/usr/share/man/*".to_string()));
}

#[test]
fn image_hooks_run_after_the_install_and_before_the_marker() {
    let lock = crate::images::lock::load().unwrap();
    let a = builder(&lock).image_argv("registry", Path::new("/m"), Path::new("/s"), false).unwrap();
    let at = |needle: &str| a.iter().position(|s| s.contains(needle)).unwrap();
    assert!(at("apt-get") < at("/run -mindepth 1"));
    assert!(at("/run -mindepth 1") < at("/usr/local/bin/registry"));
    assert!(at("/usr/local/bin/registry") < at("trust-sandbox-image"));
    assert!(!a.contains(&"--skip=update".to_string()), "without shared lists the image updates its own");
}

#[test]
fn base_argv_filters_paths_without_mmdebstraps_tar_filter() {
    let lock = crate::images::lock::load().unwrap();
    let a = builder(&lock).base_argv("bookworm", Path::new("/b"), Path::new("/s"), Path::new("/h/merged-usr"));
    assert!(a.contains(&"--variant=essential".to_string()));
    // Merged /usr the way debootstrap makes it: no usrmerge package, so no perl in every image.
    assert!(a.contains(&"--hook-dir=/h/merged-usr".to_string()));
    assert!(a.iter().any(|s| s.starts_with("--customize-hook=") && s.contains("/var/lib/dpkg/*-old")));
    // A --dpkgopt filter would send every essential package through mmtarfilter.
    assert!(!a.iter().any(|s| s.starts_with("--dpkgopt")), "{a:?}");
    assert!(a
        .iter()
        .any(|s| s.starts_with("--extract-hook=printf") && s.contains("path-include=/usr/share/doc/*/copyright")));
    assert_eq!(&a[a.len() - 3..], ["bookworm", "/b", "/s"]);
}

#[test]
fn the_base_tag_follows_suite_variant_and_recipe_only() {
    let lock = crate::images::lock::load().unwrap();
    let mut other = lock.clone();
    other.images.get_mut("notary").unwrap().packages.insert("notary".into(), "9".into());
    assert_eq!(builder(&lock).base_tag("bookworm"), builder(&other).base_tag("bookworm"));
    assert_ne!(builder(&lock).base_tag("bookworm"), builder(&lock).base_tag("trixie"));
    other.debian.variant = "minbase".into();
    assert_ne!(builder(&lock).base_tag("bookworm"), builder(&other).base_tag("bookworm"));
    assert_eq!(builder(&lock).base_tag("bookworm").len(), 12);
}

#[test]
fn a_record_needs_its_layers_on_disk() {
    let lock = crate::images::lock::load().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = Builder { lock: &lock, cache_dir: dir.path().into(), mirrors: vec![] };
    let l = RecordLayer { diff_id: format!("sha256:{}", "a".repeat(64)), created_by: "x".into() };
    b.store_record("notary", "t", &Record { layers: vec![l.clone()] }).unwrap();
    assert_eq!(b.cached("notary", "t"), None);
    fs::create_dir_all(b.layers_dir()).unwrap();
    fs::write(b.layer_path(&l.diff_id), "").unwrap();
    fs::write(b.layers_dir().join("orphan.tar"), "").unwrap();
    assert_eq!(b.cached("notary", "t"), Some(Record { layers: vec![l.clone()] }));
    b.collect_garbage();
    assert!(b.layer_path(&l.diff_id).exists() && !b.layers_dir().join("orphan.tar").exists());
    clear_cache(dir.path());
    assert_eq!(b.cached("notary", "t"), None);
}

#[test]
fn debs_are_linked_not_copied() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(a.path().join("x_1_all.deb"), "x").unwrap();
    fs::write(a.path().join("lock"), "").unwrap();
    assert_eq!(link_debs(a.path(), b.path()).unwrap(), 1);
    assert_eq!(link_debs(a.path(), b.path()).unwrap(), 0, "already there");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(b.path().join("x_1_all.deb")).unwrap().nlink(), 2);
    assert!(!b.path().join("lock").exists());
}

#[test]
fn only_builds_whose_process_is_gone_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join(".build-999999999-abc");
    let dead_load = dir.path().join(".load-999999999-abc.tar");
    fs::write(&dead_load, "").unwrap();
    let live = dir.path().join(format!(".build-{}-abc", std::process::id()));
    for d in [&dead, &live] {
        fs::create_dir_all(d.join("base/etc")).unwrap();
    }
    fs::create_dir_all(dir.path().join("debs")).unwrap();
    clean_stale_builds(dir.path());
    assert!(!dead.exists() && !dead_load.exists());
    assert!(live.exists() && dir.path().join("debs").exists());
}

#[test]
fn created_is_the_epoch() {
    assert_eq!(created(), "2023-11-14T22:13:20Z");
}

#[test]
fn registry_gets_the_name_the_spec_uses() {
    assert!(customize_hooks("registry")[0].contains("/usr/local/bin/registry"));
    assert!(customize_hooks("notary").is_empty());
}

#[test]
fn a_vanished_pin_names_the_package_and_both_ways_out() {
    let log = vec!["I: x".to_string(), "E: Version '0.7.0+ds1-2+b9' for 'notary' was not found".to_string()];
    let msg = explain_failure("notary", &log).to_string();
    assert!(msg.contains("notary=0.7.0+ds1-2+b9"), "{msg}");
    assert!(msg.contains("images lock --update") && msg.contains("--mirror"), "{msg}");
}

#[test]
fn other_failures_quote_the_error_lines() {
    let msg = explain_failure("db", &["E: Unable to locate package nope".to_string()]).to_string();
    assert!(msg.contains("Unable to locate package nope"), "{msg}");
}

#[test]
fn an_image_with_an_extra_suite_adds_its_source_and_preference_before_apt_updates() {
    let lock = crate::images::lock::load().unwrap();
    let b = Builder { lock: &lock, cache_dir: "/c".into(), mirrors: vec!["http://snap/debian/".into()] };
    let a = b.image_argv("signers", Path::new("/m"), Path::new("/s"), true).unwrap();
    let source = a.iter().find(|s| s.contains("trust-sandbox-forky.sources")).expect("a forky source");
    assert!(source.starts_with("--setup-hook=") && source.contains("URIs: http://snap/debian"), "{source}");
    assert!(source.contains("Check-Valid-Until: no") && source.contains("Suites: forky\n"), "{source}");
    assert!(a.iter().any(|s| s.starts_with("--setup-hook=") && s.contains("Pin-Priority: 100")));
    assert!(!a.contains(&"--skip=update".to_string()), "the shared lists have no forky");
    let install = a.iter().find(|s| s.contains("apt-get")).unwrap();
    assert!(install.contains("'cosign=3.1.1-2'") && install.contains("'qemu-user="), "{install}");
    let notary = b.image_argv("notary", Path::new("/m"), Path::new("/s"), true).unwrap();
    assert!(!notary.iter().any(|s| s.contains("forky")) && notary.contains(&"--skip=update".to_string()));
}

#[test]
fn only_images_with_extra_suites_change_their_tag_recipe() {
    let lock = crate::images::lock::load().unwrap();
    assert!(lock.canonical_entry("signers").unwrap().contains("extra_suites=forky\n"));
    assert!(!lock.canonical_entry("notary").unwrap().contains("extra_suites"));
}

#[test]
fn the_lock_drop_list_is_in_the_image_before_apt_installs() {
    let lock = crate::images::lock::load().unwrap();
    let a = builder(&lock).image_argv("client", Path::new("/m"), Path::new("/s"), true).unwrap();
    let at = |needle: &str| a.iter().position(|s| s.contains(needle));
    let filters = at(crate::images::trim::IMAGE_FILTERS).expect("the client drops paths");
    assert!(a[filters].starts_with("--setup-hook=") && a[filters].contains("'path-exclude=/usr/bin/qemu-*'"));
    let own = format!("'path-include=/usr/bin/qemu-{}'", crate::images::trim::host_arch());
    assert!(a[filters].contains(&own), "{}", a[filters]);
    assert!(filters < at("apt-get").unwrap());
    // An image without a drop list writes no filter file.
    let registry = builder(&lock).image_argv("registry", Path::new("/m"), Path::new("/s"), true).unwrap();
    assert!(!registry.iter().any(|s| s.contains(crate::images::trim::IMAGE_FILTERS)));
}

#[test]
fn the_consumer_is_built_on_a_trixie_base_from_the_same_archives() {
    let lock = crate::images::lock::load().unwrap();
    let b = Builder { lock: &lock, cache_dir: "/c".into(), mirrors: vec!["http://snap/debian/".into()] };
    assert_eq!(lock.suite_of("consumer").unwrap(), "trixie");
    let a = b.image_argv("consumer", Path::new("/m"), Path::new("/s"), true).unwrap();
    assert_eq!(&a[a.len() - 3..], ["trixie", "/m", "/s"]);
    let install = a.iter().find(|s| s.contains("apt-get")).unwrap();
    assert!(install.contains("'skopeo=1.18.0+ds1-1+b5'") && install.contains("'podman=5.4.2+ds1-2+b2'"), "{install}");
    assert_eq!(b.sources("trixie").unwrap()[0].suites, ["trixie", "trixie-updates"]);
    assert!(b.base_argv("trixie", Path::new("/b"), Path::new("/s"), Path::new("/h")).contains(&"trixie".to_string()));
}
