use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};

fn write_vec(upper: &Path, lower: Option<&Path>) -> (Vec<u8>, Summary) {
    let mut buf = Vec::new();
    let s = write(upper, lower, &mut buf, 1_700_000_000).unwrap();
    (buf, s)
}

fn tree(root: &Path) {
    fs::create_dir_all(root.join("etc/sub")).unwrap();
    fs::create_dir_all(root.join("dev")).unwrap();
    fs::write(root.join("etc/a"), "a").unwrap();
    fs::write(root.join("etc/sub/b"), "bb").unwrap();
    fs::write(root.join("dev/null"), "not a device, and not wanted").unwrap();
    symlink("sub/b", root.join("etc/link")).unwrap();
    fs::hard_link(root.join("etc/a"), root.join("etc/z-hard")).unwrap();
    fs::set_permissions(root.join("etc/a"), fs::Permissions::from_mode(0o4755)).unwrap();
}

#[test]
fn a_base_layer_is_sorted_keeps_links_and_leaves_dev_empty() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let (buf, s) = write_vec(dir.path(), None);
    assert_eq!(
        list(buf.as_slice()).unwrap(),
        ["dev/", "etc/", "etc/a", "etc/link -> sub/b", "etc/sub/", "etc/sub/b", "etc/z-hard => etc/a"]
    );
    assert_eq!(s, Summary { entries: 7, whiteouts: 0 });
    let mut ar = tar::Archive::new(buf.as_slice());
    let a = ar.entries().unwrap().map(Result::unwrap).find(|e| e.path().unwrap() == Path::new("etc/a")).unwrap();
    let h = a.header();
    assert_eq!(h.mode().unwrap(), 0o4755);
    assert_eq!(h.mtime().unwrap(), 1_700_000_000, "fresh mtimes are clamped to the epoch");
    assert_eq!(h.username().unwrap(), Some(""));
    assert_eq!(h.size().unwrap(), 1);
}

#[test]
fn the_same_tree_gives_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tree(a.path());
    tree(b.path());
    assert_eq!(write_vec(a.path(), None).0, write_vec(b.path(), None).0);
}

#[test]
fn long_names_and_link_targets_survive() {
    let dir = tempfile::tempdir().unwrap();
    let long = "d".repeat(120);
    fs::create_dir_all(dir.path().join(&long)).unwrap();
    fs::write(dir.path().join(&long).join("f"), "x").unwrap();
    symlink(format!("/{long}/f"), dir.path().join("l")).unwrap();
    let names = list(write_vec(dir.path(), None).0.as_slice()).unwrap();
    assert!(names.contains(&format!("{long}/f")), "{names:?}");
    assert!(names.contains(&format!("l -> /{long}/f")), "{names:?}");
}

/// A 0/0 character device is overlay's deletion mark; making one needs CAP_MKNOD.
fn whiteout(path: &Path) -> bool {
    std::process::Command::new("mknod")
        .arg(path)
        .args(["c", "0", "0"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn deletions_become_whiteouts_only_where_something_is_hidden() {
    let (lower, upper) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tree(lower.path());
    fs::create_dir_all(upper.path().join("etc")).unwrap();
    fs::write(upper.path().join("etc/new"), "n").unwrap();
    if !whiteout(&upper.path().join("etc/a")) {
        eprintln!("skipped: mknod needs root");
        return;
    }
    assert!(whiteout(&upper.path().join("etc/sub")));
    assert!(whiteout(&upper.path().join("etc/never-below")));
    let (buf, s) = write_vec(upper.path(), Some(lower.path()));
    assert_eq!(list(buf.as_slice()).unwrap(), ["etc/", "etc/.wh.a", "etc/.wh.sub", "etc/new"]);
    assert_eq!(s.whiteouts, 2);
}

#[test]
fn an_opaque_directory_hides_everything_below_it() {
    let (lower, upper) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tree(lower.path());
    fs::create_dir_all(upper.path().join("etc/sub")).unwrap();
    fs::create_dir_all(upper.path().join("fresh")).unwrap();
    fs::write(upper.path().join("etc/sub/c"), "c").unwrap();
    for d in ["etc/sub", "fresh"] {
        if xattr::set(upper.path().join(d), OVERLAY_OPAQUE, b"y").is_err() {
            eprintln!("skipped: trusted.* attributes need root");
            return;
        }
    }
    let names = list(write_vec(upper.path(), Some(lower.path())).0.as_slice()).unwrap();
    assert_eq!(names, ["etc/", "etc/sub/", "etc/sub/.wh..wh..opq", "etc/sub/c", "fresh/"]);
}

#[test]
fn device_numbers_split_like_glibc() {
    // glibc's gnu_dev_makedev, the inverse.
    let makedev = |ma: u64, mi: u64| ((ma & 0xfff) << 8) | ((ma & !0xfff) << 32) | (mi & 0xff) | ((mi & !0xff) << 12);
    assert_eq!((major(makedev(5, 1)), minor(makedev(5, 1))), (5, 1));
    assert_eq!((major(makedev(0x1234, 0x56789)), minor(makedev(0x1234, 0x56789))), (0x1234, 0x56789));
}

#[test]
fn sha256_matches_a_known_digest() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    fs::write(&p, "abc").unwrap();
    assert_eq!(sha256_file(&p).unwrap(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
