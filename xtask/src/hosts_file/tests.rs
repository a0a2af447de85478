use super::write::EROFS;
use super::*;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

const BLOCK_LF: &str = "# BEGIN trust-sandbox v1 (managed by `cargo xtask sandbox hosts`; remove with `cargo xtask sandbox hosts remove`)\n127.0.0.1\tnotaryserver sandboxregistry\n# END trust-sandbox v1\n";

/// Every shape of file whose bytes must survive add + remove.
const FIXTURES: &[(&str, &str)] = &[
    ("empty", ""),
    ("single newline", "\n"),
    ("no trailing newline", "127.0.0.1\tlocalhost"),
    ("plain", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"),
    ("crlf", "127.0.0.1 localhost\r\n::1 localhost\r\n"),
    ("crlf without trailing newline", "127.0.0.1 localhost\r\n::1 localhost"),
    ("trailing blank line", "127.0.0.1 localhost\n\n"),
    ("trailing whitespace lines", "127.0.0.1 localhost\n  \n\t\n"),
    ("whitespace only, no newline", "   "),
    ("comments", "# 10.0.0.1 notaryserver\n127.0.0.1 localhost # sandboxregistry\n#\n"),
    ("non-ascii comment", "# héllo wörld\n127.0.0.1 localhost"),
];

fn tmp_hosts(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    fs::write(&path, content).unwrap();
    (dir, path)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn set_old_mtime(path: &Path) -> SystemTime {
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    File::options().write(true).open(path).unwrap().set_modified(old).unwrap();
    old
}

fn begin_count(s: &str) -> usize {
    s.lines().filter(|l| l.starts_with(BEGIN_PREFIX)).count()
}

fn foreign(line_no: usize, line: &str, name: &str, addr: &str) -> Finding {
    Finding::ForeignMapping { line_no, line: line.into(), name: name.into(), addr: addr.into() }
}

// --- block rendering -------------------------------------------------

#[test]
fn rendered_block_is_versioned_and_maps_both_names() {
    assert_eq!(render_block(false, Eol::Lf), BLOCK_LF);
    assert!(render_block(true, Eol::Lf).starts_with("# BEGIN trust-sandbox v1 newline-added (managed by"));
    assert_eq!(render_block(false, Eol::CrLf), BLOCK_LF.replace('\n', "\r\n"));
}

// --- round trips -----------------------------------------------------

#[test]
fn pure_round_trip_restores_every_fixture() {
    for (name, before) in FIXTURES {
        let added = plan_add(before).unwrap();
        assert!(added.findings.is_empty(), "{name}");
        assert_ne!(added.after, *before, "{name}");
        assert!(added.after.starts_with(before), "{name}: prefix kept");
        assert_eq!(begin_count(&added.after), 1, "{name}");
        let status = show(&added.after);
        assert!(status.present && !status.stale, "{name}: {status:?}");
        assert_eq!(plan_add(&added.after).unwrap().after, added.after, "{name}");
        let removed = plan_remove(&added.after).unwrap();
        assert_eq!(removed.after, *before, "{name}: not restored byte for byte");
    }
}

#[test]
fn file_round_trip_restores_every_fixture() {
    for (name, before) in FIXTURES {
        let (dir, path) = tmp_hosts(before);
        assert!(add(&path, false).unwrap().changed, "{name}");
        let once = read(&path);
        assert!(!add(&path, false).unwrap().changed, "{name}");
        assert_eq!(read(&path), once, "{name}: second add changed the file");
        assert!(remove(&path, false).unwrap().changed, "{name}");
        assert_eq!(read(&path), *before, "{name}: not restored byte for byte");
        assert!(!remove(&path, false).unwrap().changed, "{name}");
        assert_eq!(dir_entries(dir.path()), ["hosts"], "{name}: temp file left");
    }
}

#[test]
fn empty_file_gets_just_the_block() {
    assert_eq!(plan_add("").unwrap().after, BLOCK_LF);
    assert_eq!(plan_remove(BLOCK_LF).unwrap().after, "");
}

#[test]
fn missing_trailing_newline_is_recorded_in_the_block() {
    let after = plan_add("127.0.0.1 localhost").unwrap().after;
    assert_eq!(after, format!("127.0.0.1 localhost\n{}", render_block(true, Eol::Lf)));
    assert_eq!(plan_remove(&after).unwrap().after, "127.0.0.1 localhost");
}

#[test]
fn added_newline_is_kept_when_the_user_wrote_after_the_block() {
    // Dropping it would glue `127.0.0.1 localhost` to the user's line.
    let after = plan_add("127.0.0.1 localhost").unwrap().after + "10.0.0.1 mine\n";
    assert_eq!(plan_remove(&after).unwrap().after, "127.0.0.1 localhost\n10.0.0.1 mine\n");
}

#[test]
fn crlf_file_gets_a_crlf_block() {
    let before = "127.0.0.1 localhost\r\n";
    let after = plan_add(before).unwrap().after;
    assert_eq!(after, format!("{before}{}", BLOCK_LF.replace('\n', "\r\n")));
    assert_eq!(after.matches('\n').count(), after.matches("\r\n").count());
    assert!(!show(&after).stale);

    let no_eol = "127.0.0.1 localhost\r\n::1 localhost";
    let after = plan_add(no_eol).unwrap().after;
    assert!(after.starts_with("127.0.0.1 localhost\r\n::1 localhost\r\n# BEGIN"));
    assert_eq!(after.matches('\n').count(), after.matches("\r\n").count());
    assert_eq!(plan_remove(&after).unwrap().after, no_eol);
}

#[test]
fn trailing_blank_line_is_kept() {
    let before = "127.0.0.1 localhost\n\n";
    let after = plan_add(before).unwrap().after;
    assert_eq!(after, format!("{before}{BLOCK_LF}"));
    assert_eq!(plan_remove(&after).unwrap().after, before);
}

// --- idempotence -----------------------------------------------------

#[test]
fn current_block_means_nothing_to_do() {
    let content = format!("127.0.0.1 localhost\n{BLOCK_LF}");
    let plan = plan_add(&content).unwrap();
    assert_eq!(plan.after, plan.before);
    assert_eq!(show(&content), Status { present: true, stale: false, foreign: vec![] });
}

#[test]
fn add_twice_writes_once_and_leaves_one_block() {
    let (_dir, path) = tmp_hosts("127.0.0.1 localhost\n");
    add(&path, false).unwrap();
    let ino = fs::metadata(&path).unwrap().ino();
    let old = set_old_mtime(&path);
    let outcome = add(&path, false).unwrap();
    assert_eq!(outcome, Outcome { changed: false, diff: String::new() });
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.ino(), ino, "file was replaced");
    assert_eq!(meta.modified().unwrap(), old, "file was written");
    assert_eq!(begin_count(&read(&path)), 1);
}

#[test]
fn remove_without_block_writes_nothing() {
    let (_dir, path) = tmp_hosts("127.0.0.1 localhost\n");
    let ino = fs::metadata(&path).unwrap().ino();
    let old = set_old_mtime(&path);
    assert!(!remove(&path, false).unwrap().changed);
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.ino(), meta.modified().unwrap()), (ino, old));
}

// --- stale and duplicated blocks ----------------------------------------

#[test]
fn older_version_block_is_replaced_in_place() {
    let before = "127.0.0.1 localhost\n\
                      # BEGIN trust-sandbox v0\n\
                      127.0.0.1 notaryserver\n\
                      # END trust-sandbox\n\
                      10.0.0.9 other\n";
    let status = show(before);
    assert!(status.present && status.stale);
    assert!(status.foreign.is_empty(), "lines in our block are not foreign");
    let plan = plan_add(before).unwrap();
    assert!(plan.findings.is_empty());
    assert_eq!(plan.after, format!("127.0.0.1 localhost\n{BLOCK_LF}10.0.0.9 other\n"));
    assert_eq!(plan_remove(&plan.after).unwrap().after, "127.0.0.1 localhost\n10.0.0.9 other\n");
}

#[test]
fn edited_block_is_stale() {
    let edited = BLOCK_LF.replace("127.0.0.1\t", "10.0.0.1\t");
    let before = format!("a\n{edited}b\n");
    assert!(show(&before).stale);
    assert_eq!(plan_add(&before).unwrap().after, format!("a\n{BLOCK_LF}b\n"));

    // An editor stripped the final newline from our END line.
    let before = format!("a\n{}", BLOCK_LF.trim_end());
    assert!(show(&before).stale);
    assert_eq!(plan_add(&before).unwrap().after, format!("a\n{BLOCK_LF}"));

    // LF block in a CRLF file (e.g. converted by hand).
    let before = format!("a\r\n{BLOCK_LF}b\r\n");
    assert!(show(&before).stale);
    let crlf_block = BLOCK_LF.replace('\n', "\r\n");
    assert_eq!(plan_add(&before).unwrap().after, format!("a\r\n{crlf_block}b\r\n"));
}

#[test]
fn stale_status_agrees_with_plan_add() {
    let mut cases: Vec<String> = FIXTURES.iter().map(|(_, c)| c.to_string()).collect();
    cases.extend(FIXTURES.iter().map(|(_, c)| plan_add(c).unwrap().after));
    cases.push(format!("a\n{}", BLOCK_LF.replace("v1", "v0")));
    cases.push(format!("{BLOCK_LF}x\n{BLOCK_LF}"));
    for c in cases {
        let s = show(&c);
        let changes = plan_add(&c).unwrap().after != c;
        assert_eq!(s.present && s.stale, s.present && changes, "{c:?}");
        assert_eq!(!s.present, changes && !s.stale, "{c:?}");
    }
}

#[test]
fn double_block_becomes_one_at_the_first_position() {
    let old = "# BEGIN trust-sandbox v0\n127.0.0.1 notaryserver\n# END trust-sandbox\n";
    let before = format!("a\n{BLOCK_LF}b\n{old}c\n");
    let status = show(&before);
    assert!(status.present && status.stale);
    let after = plan_add(&before).unwrap().after;
    assert_eq!(after, format!("a\n{BLOCK_LF}b\nc\n"));
    assert_eq!(plan_remove(&before).unwrap().after, "a\nb\nc\n");
}

// --- corrupt blocks ------------------------------------------------------

#[test]
fn begin_without_end_is_an_error_not_a_guess() {
    let before = "127.0.0.1 localhost\n# BEGIN trust-sandbox v1\n127.0.0.1\tnotaryserver\n";
    for err in [plan_add(before).unwrap_err(), plan_remove(before).unwrap_err()] {
        let msg = err.to_string();
        assert!(msg.contains("corrupt trust-sandbox block"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("by hand"), "{msg}");
    }
    let status = show(before);
    assert!(status.present && status.stale);
    assert!(status.foreign.is_empty());

    let (dir, path) = tmp_hosts(before);
    for result in [add(&path, false), remove(&path, false)] {
        let msg = result.unwrap_err().to_string();
        assert!(msg.starts_with(&format!("{}: corrupt", path.display())), "{msg}");
    }
    assert_eq!(read(&path), before);
    assert_eq!(dir_entries(dir.path()), ["hosts"]);
}

#[test]
fn end_without_begin_and_nested_begin_are_errors() {
    let stray_end = "a\n# END trust-sandbox v1\n";
    let msg = plan_add(stray_end).unwrap_err().to_string();
    assert!(msg.contains("line 2") && msg.contains("never started"), "{msg}");

    let nested = format!("# BEGIN trust-sandbox v1\n{BLOCK_LF}");
    let msg = plan_remove(&nested).unwrap_err().to_string();
    assert!(msg.contains("line 2") && msg.contains("line 1"), "{msg}");
    assert!(show(&nested).stale);
}

#[test]
fn similar_marker_text_is_not_ours() {
    let before = "# BEGIN trust-sandboxes\n127.0.0.1 localhost\n";
    assert!(!show(before).present);
    assert_eq!(plan_add(before).unwrap().after, format!("{before}{BLOCK_LF}"));
}

// --- foreign mappings ----------------------------------------------------

#[test]
fn foreign_mapping_of_each_name_is_reported() {
    for name in names() {
        for (line, addr) in [
            (format!("10.9.8.7\t{name}"), "10.9.8.7"),
            (format!("127.0.0.1 {name} # set by hand"), "127.0.0.1"),
            (format!("  ::1  localhost {}", name.to_uppercase()), "::1"),
        ] {
            let content = format!("127.0.0.1 localhost\n{line}\n");
            let want = vec![foreign(2, &line, name, addr)];
            assert_eq!(plan_add(&content).unwrap().findings, want);
            assert_eq!(show(&content).foreign, want);
        }
    }
    let both = "127.0.0.1 notaryserver sandboxregistry";
    assert_eq!(
        show(both).foreign,
        vec![foreign(1, both, "notaryserver", "127.0.0.1"), foreign(1, both, "sandboxregistry", "127.0.0.1"),]
    );
}

#[test]
fn add_refuses_foreign_mapping_and_writes_nothing() {
    for name in names() {
        let before = format!("127.0.0.1 localhost\r\n10.9.8.7 {name}\r\n");
        let (dir, path) = tmp_hosts(&before);
        for dry_run in [false, true] {
            let msg = add(&path, dry_run).unwrap_err().to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("line 2: `10.9.8.7 {name}`")), "{msg}");
            assert!(msg.contains("remove"), "{msg}");
            assert!(msg.contains("--hosts-file"), "{msg}");
        }
        assert_eq!(read(&path), before);
        assert_eq!(dir_entries(dir.path()), ["hosts"]);
    }
}

#[test]
fn foreign_mapping_error_lists_each_line_once() {
    let content = "127.0.0.1 notaryserver sandboxregistry\n";
    let findings = plan_add(content).unwrap().findings;
    let msg = foreign_error(Path::new("/etc/hosts"), &findings).to_string();
    assert_eq!(
        msg,
        "refusing to edit /etc/hosts: it already maps names that trust-sandbox manages, and \
             those mappings are not overridden:\n  \
             line 1: `127.0.0.1 notaryserver sandboxregistry` maps notaryserver to 127.0.0.1, \
             sandboxregistry to 127.0.0.1\n\
             remove (or comment out) those lines, or pass --hosts-file PATH to use a different \
             hosts file"
    );
}

#[test]
fn commented_or_similar_names_are_not_foreign() {
    let content = "# 127.0.0.1 notaryserver\n\
                       #10.0.0.1 sandboxregistry\n\
                       127.0.0.1 localhost # notaryserver\n\
                       127.0.0.1 localhost#sandboxregistry\n\
                       127.0.0.1 notaryserver-old sandboxregistry.example.com\n\
                       notaryserver\n";
    assert_eq!(show(content).foreign, vec![]);
    assert!(plan_add(content).unwrap().findings.is_empty());
}

#[test]
fn remove_leaves_foreign_mappings_alone() {
    let before = format!("10.0.0.1 notaryserver\n{BLOCK_LF}");
    let plan = plan_remove(&before).unwrap();
    assert_eq!(plan.after, "10.0.0.1 notaryserver\n");
    assert_eq!(plan.findings.len(), 1);
}

// --- dry run ---------------------------------------------------------

#[test]
fn dry_run_writes_nothing() {
    let before = "127.0.0.1 localhost\n";
    let (dir, path) = tmp_hosts(before);
    let old = set_old_mtime(&path);
    let ino = fs::metadata(&path).unwrap().ino();
    let outcome = add(&path, true).unwrap();
    assert!(outcome.changed);
    assert!(outcome.diff.contains("\n+127.0.0.1\tnotaryserver sandboxregistry\n"), "{}", outcome.diff);
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.ino(), meta.modified().unwrap()), (ino, old));
    assert_eq!(read(&path), before);
    assert_eq!(dir_entries(dir.path()), ["hosts"]);

    let real = add(&path, false).unwrap();
    assert_eq!(real, outcome, "dry run predicted a different change");
    let added = read(&path);
    let old = set_old_mtime(&path);
    let outcome = remove(&path, true).unwrap();
    assert!(outcome.changed);
    assert!(outcome.diff.contains("\n-# END trust-sandbox v1\n"));
    assert_eq!(read(&path), added);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old);
}

// --- missing files -----------------------------------------------------

#[test]
fn missing_file_add_fails_remove_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let msg = add(&path, false).unwrap_err().to_string();
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(!remove(&path, false).unwrap().changed);
    assert!(!path.exists());
}

// --- errors ------------------------------------------------------------

#[test]
fn permission_errors_say_how_to_fix_them() {
    // Injected rather than provoked: the tests may run as root, where file
    // modes do not stop anything. EACCES and EPERM both map to
    // PermissionDenied, which is what the message keys on.
    let path = Path::new("/etc/hosts");
    let eacces = io::Error::from_raw_os_error(13);
    assert_eq!(
        describe_io_error(eacces, path, Access::Write, "add").to_string(),
        "permission denied writing /etc/hosts: re-run with sudo (sudo -E cargo xtask sandbox \
             hosts add) or pass --hosts-file PATH"
    );
    let eperm = io::Error::from_raw_os_error(1);
    assert_eq!(
        describe_io_error(eperm, path, Access::Read, "remove").to_string(),
        "permission denied reading /etc/hosts: re-run with sudo (sudo -E cargo xtask sandbox \
             hosts remove) or pass --hosts-file PATH"
    );
    let erofs = io::Error::from_raw_os_error(EROFS);
    let msg = describe_io_error(erofs, path, Access::Write, "add").to_string();
    assert!(msg.contains("read-only file system") && msg.contains("--hosts-file"), "{msg}");
}

#[test]
fn other_io_errors_name_the_path_without_sudo_advice() {
    // A regular file used as a directory gives ENOTDIR, even for root.
    let (_dir, file) = tmp_hosts("x");
    let path = file.join("hosts");
    let msg = add(&path, false).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("reading {} failed:", path.display())), "{msg}");
    assert!(!msg.contains("sudo"), "{msg}");
    let msg = write_atomic(&path, "x").unwrap_err().to_string();
    assert!(msg.starts_with(&format!("writing {} failed:", path.display())), "{msg}");
}

// --- write_atomic ------------------------------------------------------

#[test]
fn write_atomic_keeps_mode() {
    for mode in [0o644, 0o600] {
        let (dir, path) = tmp_hosts("old\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let ino = fs::metadata(&path).unwrap().ino();
        write_atomic(&path, "new\n").unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, mode);
        assert_ne!(meta.ino(), ino, "expected a rename, not an in-place write");
        assert_eq!(read(&path), "new\n");
        assert_eq!(dir_entries(dir.path()), ["hosts"]);
    }
}

#[test]
fn write_atomic_keeps_owner() {
    let (_dir, path) = tmp_hosts("old\n");
    let meta = fs::metadata(&path).unwrap();
    // Giving a file away needs root; otherwise check the owner is unchanged.
    let (uid, gid) = if std::os::unix::fs::chown(&path, Some(4242), Some(4343)).is_ok() {
        (4242, 4343)
    } else {
        (meta.uid(), meta.gid())
    };
    write_atomic(&path, "new\n").unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
}

#[test]
fn write_atomic_creates_missing_file_world_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    write_atomic(&path, "x\n").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
}

#[test]
fn write_atomic_writes_through_symlinks() {
    let (dir, real) = tmp_hosts("old\n");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    write_atomic(&link, "new\n").unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(read(&real), "new\n");
}

#[test]
fn concurrent_change_aborts_the_write() {
    let (dir, path) = tmp_hosts("changed by someone else\n");
    let result = write_replacing(&path, "new\n", Some("what we planned from\n"));
    assert!(matches!(result, Err(WriteError::Raced)));
    assert_eq!(read(&path), "changed by someone else\n");
    assert_eq!(dir_entries(dir.path()), ["hosts"]);
}

// --- status / json -------------------------------------------------------

#[test]
fn status_serializes_for_json_output() {
    let content = format!("10.0.0.1 notaryserver\n{BLOCK_LF}");
    let json = serde_json::to_value(show(&content)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "present": true,
            "stale": false,
            "foreign": [{
                "kind": "foreign_mapping",
                "line_no": 1,
                "line": "10.0.0.1 notaryserver",
                "name": "notaryserver",
                "addr": "10.0.0.1",
            }],
        })
    );
}

#[test]
fn status_reads_the_file() {
    let (_dir, path) = tmp_hosts(BLOCK_LF);
    assert_eq!(status(&path).unwrap(), Status { present: true, stale: false, foreign: vec![] });
}

// --- diff ------------------------------------------------------------

#[test]
fn diff_of_identical_content_is_empty() {
    assert_eq!(unified_diff("h", "a\n", "a\n"), "");
}

#[test]
fn diff_adding_to_an_empty_file() {
    assert_eq!(
        unified_diff("/etc/hosts", "", "a\nb\n"),
        "--- /etc/hosts\t(current)\n+++ /etc/hosts\t(proposed)\n@@ -0,0 +1,2 @@\n+a\n+b\n"
    );
}

#[test]
fn diff_marks_missing_final_newline() {
    assert_eq!(
        unified_diff("h", "x\ny", "x\ny\nz\n"),
        "--- h\t(current)\n+++ h\t(proposed)\n@@ -1,2 +1,3 @@\n x\n-y\n\\ No newline at end of file\n+y\n+z\n"
    );
}

#[test]
fn diff_keeps_three_lines_of_context_and_splits_far_hunks() {
    let numbered = |edits: &[(usize, &str)]| -> String {
        (1..=20)
            .map(|i| match edits.iter().find(|(n, _)| *n == i) {
                Some((_, text)) => format!("{text}\n"),
                None => format!("{i}\n"),
            })
            .collect()
    };
    let before = numbered(&[]);
    let after = numbered(&[(2, "two"), (18, "eighteen")]);
    assert_eq!(
        unified_diff("h", &before, &after),
        "--- h\t(current)\n+++ h\t(proposed)\n\
             @@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n\
             @@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n 20\n"
    );
    // Six unchanged lines between changes: the contexts touch, one hunk.
    let after = numbered(&[(2, "two"), (9, "nine")]);
    let diff = unified_diff("h", &before, &after);
    assert_eq!(diff.matches("@@ -").count(), 1, "{diff}");
    assert!(diff.contains("@@ -1,12 +1,12 @@"), "{diff}");
}

#[test]
fn diff_of_a_large_hosts_file_shows_only_the_block() {
    let body: String = (0..200_000).map(|i| format!("0.0.0.0 ad{i}.example\n")).collect();
    let before = format!("{BLOCK_LF}{body}{}", BLOCK_LF.replace("v1", "v0"));
    let after = plan_add(&before).unwrap().after;
    let diff = unified_diff("h", &before, &after);
    assert_eq!(diff.matches("\n-").count(), 3, "{diff}");
    assert_eq!(diff.matches("\n+").count(), 1, "{diff}"); // the +++ header
}

#[test]
fn patch_applies_the_diff_and_gets_the_proposed_file() {
    let pairs = [
        ("a\nb\nc\n", "a\nc\n"),
        ("a\nb\nc\n", "x\ny\n"),
        ("a\nb\na\nb\n", "b\na\nb\na\n"),
        ("1\n2\n3\n4\n5\n", "0\n1\n3\n4\n6\n"),
        ("x\ny", "x\ny\nz\n"),
        ("x\r\ny\r\n", "x\r\ny\r\nz\r\n"),
        ("", "a\n"),
    ];
    for (before, after) in pairs {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, before).unwrap();
        let mut child = std::process::Command::new("patch")
            .args(["--silent", "--batch"])
            .arg(&file)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("patch(1) runs");
        child.stdin.take().unwrap().write_all(unified_diff("hosts", before, after).as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "{before:?} -> {after:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), after, "{before:?} -> {after:?}");
    }
}
