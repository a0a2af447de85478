use super::*;

fn m(database: &'static str, version: u32, name: &'static str, sql: &'static str) -> Migration {
    Migration { database, version, name, sql }
}

fn fixture() -> Vec<Migration> {
    vec![
        m("a", 1, "one", "CREATE TABLE t1 (id INT);\n"),
        m("a", 2, "two", "CREATE TABLE t2 (id INT);\n"),
        m("a", 3, "three", "CREATE TABLE t3 (id INT);\n"),
        m("b", 1, "other", "CREATE TABLE u1 (id INT);\n"),
    ]
}

fn applied(ms: &[Migration], db: &str, versions: &[u32]) -> Vec<(u32, String)> {
    versions
        .iter()
        .map(|v| {
            let found = ms.iter().find(|m| m.database == db && m.version == *v).unwrap();
            (*v, found.checksum())
        })
        .collect()
}

fn versions(p: &[&Migration]) -> Vec<u32> {
    p.iter().map(|m| m.version).collect()
}

#[test]
fn migrations_sorted_unique_and_named_like_their_files() {
    let all = migrations();
    assert!(!all.is_empty());
    for pair in all.windows(2) {
        assert!(
            (pair[0].database, pair[0].version) < (pair[1].database, pair[1].version),
            "{} must sort before {}",
            pair[0].label(),
            pair[1].label()
        );
    }
    for m in &all {
        assert!([SERVER_DB, SIGNER_DB].contains(&m.database), "{}", m.label());
        assert!(m.version >= 1);
        assert!(m.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{}", m.label());
    }
    // Both databases start at 1 and have no gaps.
    for db in [SERVER_DB, SIGNER_DB] {
        let vs: Vec<u32> = all.iter().filter(|m| m.database == db).map(|m| m.version).collect();
        assert_eq!(vs, (1..=vs.len() as u32).collect::<Vec<_>>(), "{db}");
    }
}

#[test]
fn every_sql_file_is_registered() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut on_disk = BTreeSet::new();
    for db in std::fs::read_dir(&root).unwrap() {
        let db = db.unwrap();
        for file in std::fs::read_dir(db.path()).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            on_disk.insert(format!("{}/{file}", db.file_name().to_string_lossy()));
        }
    }
    let registered: BTreeSet<String> =
        migrations().iter().map(|m| format!("{}/{:04}_{}.sql", m.database, m.version, m.name)).collect();
    assert_eq!(on_disk, registered);
}

#[test]
fn migration_files_are_safe_to_wrap() {
    for m in migrations() {
        // apply_sql appends the tracking INSERT on a new line: the last
        // statement must be terminated or the two would run together.
        let last = m.sql.lines().map(str::trim).rfind(|l| !l.is_empty() && !l.starts_with("--")).unwrap();
        assert!(last.ends_with(';'), "{}: last statement lacks ';'", m.label());
        let upper = m.sql.to_ascii_uppercase();
        // The database is chosen by apply_sql, never by the file.
        assert!(!upper.contains("\nUSE "), "{}", m.label());
        assert!(upper.contains("ENGINE=INNODB"), "{}", m.label());
        assert!(upper.contains("UTF8MB4"), "{}", m.label());
    }
}

#[test]
fn schema_has_what_notary_0_7_needs() {
    let all = migrations();
    let text = |db: &str| -> String { all.iter().filter(|m| m.database == db).map(|m| m.sql).collect() };
    let server = text(SERVER_DB);
    for needle in [
        "`tuf_files`",
        "`changefeed`",
        "`change_category`",
        "('update'), ('deletion')",
        "(`gun`, `role`, `version`)",
        "`deleted_at`",
    ] {
        assert!(server.contains(needle), "server schema lacks {needle}");
    }
    let signer = text(SIGNER_DB);
    for needle in ["`private_keys`", "UNIQUE KEY `private_keys_key_id` (`key_id`)", "`last_used` DATETIME NULL"] {
        assert!(signer.contains(needle), "signer schema lacks {needle}");
    }
}

#[test]
#[should_panic(expected = "is not NNNN_name.sql")]
fn malformed_file_stem_is_a_programming_error() {
    Migration::from_file("notaryserver", "tuf_files", "");
}

#[test]
fn checksum_is_sha256_hex_and_ignores_crlf() {
    let a = m("a", 1, "x", "abc");
    assert_eq!(a.checksum(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(m("a", 1, "x", "A;\r\nB;\r\n").checksum(), m("a", 1, "x", "A;\nB;\n").checksum());
}

#[test]
fn plan_nothing_applied_returns_all_in_order() {
    let ms = fixture();
    let mut shuffled = ms.clone();
    shuffled.reverse();
    let p = plan(&shuffled, &[], "a").unwrap();
    assert_eq!(versions(&p), [1, 2, 3]);
    assert!(p.iter().all(|m| m.database == "a"));
    assert_eq!(versions(&plan(&ms, &[], "b").unwrap()), [1]);
}

#[test]
fn plan_partial_and_all_applied() {
    let ms = fixture();
    let p = plan(&ms, &applied(&ms, "a", &[1]), "a").unwrap();
    assert_eq!(versions(&p), [2, 3]);
    let p = plan(&ms, &applied(&ms, "a", &[1, 2, 3]), "a").unwrap();
    assert!(p.is_empty());
    // Only the named database's migrations are planned.
    let p = plan(&ms, &applied(&ms, "b", &[1]), "b").unwrap();
    assert!(p.is_empty());
}

#[test]
fn plan_accepts_uppercase_recorded_checksum() {
    let ms = fixture();
    let rec = vec![(1, ms[0].checksum().to_ascii_uppercase())];
    assert_eq!(versions(&plan(&ms, &rec, "a").unwrap()), [2, 3]);
}

#[test]
fn plan_rejects_edited_migration() {
    let ms = fixture();
    let mut rec = applied(&ms, "a", &[1, 2]);
    rec[1].1 = "0".repeat(64);
    let err = plan(&ms, &rec, "a").unwrap_err().to_string();
    assert!(err.contains("a/0002_two"), "{err}");
    assert!(err.contains("edited after it was applied"), "{err}");
    assert!(err.contains(&ms[1].checksum()), "{err}");
}

#[test]
fn plan_rejects_unknown_applied_version() {
    let ms = fixture();
    let mut rec = applied(&ms, "a", &[1, 2, 3]);
    rec.push((7, "f".repeat(64)));
    let err = plan(&ms, &rec, "a").unwrap_err().to_string();
    assert!(err.contains("version 7"), "{err}");
    assert!(err.contains("newer trust-sandbox"), "{err}");
}

#[test]
fn plan_rejects_out_of_order_and_duplicates_and_unknown_db() {
    let ms = fixture();
    let err = plan(&ms, &applied(&ms, "a", &[2]), "a").unwrap_err().to_string();
    assert!(err.contains("a/0001_one"), "{err}");
    let twice = applied(&ms, "a", &[1, 1]);
    assert!(plan(&ms, &twice, "a").is_err());
    assert!(plan(&ms, &[], "nope").is_err());
    let mut dup = ms.clone();
    dup.push(m("a", 2, "again", "SELECT 1;"));
    assert!(plan(&dup, &[], "a").unwrap_err().to_string().contains("share version 2"));
}

#[test]
fn plan_on_real_migrations() {
    let all = migrations();
    let server = plan(&all, &[], SERVER_DB).unwrap();
    assert_eq!(server.len(), all.iter().filter(|m| m.database == SERVER_DB).count());
    let done = applied(&all, SERVER_DB, &versions(&server));
    assert!(plan(&all, &done, SERVER_DB).unwrap().is_empty());
}

#[test]
fn parse_applied_real_output() {
    let c1 = "a".repeat(64);
    let c2 = "0123456789abcdef".repeat(4);
    let out = format!("1\t{c1}\n2\t{c2}\n");
    assert_eq!(parse_applied(&out).unwrap(), vec![(1, c1.clone()), (2, c2.clone())]);
    // No trailing newline, CRLF, blank lines, uppercase hex.
    let out = format!("1\t{}\r\n\n2\t{c2}", c1.to_ascii_uppercase());
    assert_eq!(parse_applied(&out).unwrap(), vec![(1, c1), (2, c2)]);
    assert!(parse_applied("").unwrap().is_empty());
    assert!(parse_applied("\n").unwrap().is_empty());
}

#[test]
fn parse_applied_rejects_garbage() {
    let c = "a".repeat(64);
    // Column headers (forgot --skip-column-names).
    let err = parse_applied(&format!("version\tchecksum\n1\t{c}\n")).unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
    assert!(parse_applied(&format!("1\t{c}\textra\n")).is_err());
    assert!(parse_applied("1\n").is_err());
    assert!(parse_applied("1\tnothex\n").is_err());
    assert!(parse_applied(&format!("-1\t{c}\n")).is_err());
    assert!(parse_applied("1\tNULL\n").is_err());
}

#[test]
fn apply_sql_wraps_migration_and_records_it() {
    let mig = m("notaryserver", 3, "thing", "CREATE TABLE x (id INT);\n\n");
    let sql = apply_sql(&mig);
    let use_at = sql.find("USE `notaryserver`;\n").unwrap();
    let body_at = sql.find("CREATE TABLE x (id INT);\n").unwrap();
    let insert = format!(
        "INSERT INTO `sandbox_schema_migrations` (`version`, `name`, `checksum`) VALUES \
             (3, 'thing', '{}');\n",
        mig.checksum()
    );
    let insert_at = sql.find(&insert).unwrap();
    assert!(use_at < body_at && body_at < insert_at);
    assert!(sql.ends_with(&insert));
}

#[test]
fn quoting_escapes_quotes_and_backslashes() {
    assert_eq!(quote_str("plain"), "'plain'");
    assert_eq!(quote_str("o'hara"), "'o''hara'");
    assert_eq!(quote_str(r"back\slash"), r"'back\\slash'");
    assert_eq!(quote_str("\\'; DROP DATABASE x; --"), r"'\\''; DROP DATABASE x; --'");
    assert_eq!(quote_str("a\nb\0"), r"'a\nb\0'");
    assert_eq!(quote_ident("no`tary"), "`no``tary`");
}

#[test]
fn bootstrap_escapes_credentials() {
    let sql = bootstrap_sql(&DB_NAMES, "srv'x", r"p\w'd", "sig", "pw");
    assert!(sql.contains("CREATE USER IF NOT EXISTS 'srv''x'@'%'"), "{sql}");
    assert!(sql.contains(r"BY 'p\\w''d';"), "{sql}");
    // The quote never appears undoubled, so it cannot end the literal.
    assert!(!sql.contains("'srv'x'"), "{sql}");
}

#[test]
fn bootstrap_creates_dbs_tracking_and_converging_users() {
    let sql = bootstrap_sql(&DbNames::default(), "server", "s3cr3t", "signer", "t0ps3cr3t");
    for db in [SERVER_DB, SIGNER_DB] {
        assert!(sql.contains(&format!("CREATE DATABASE IF NOT EXISTS `{db}`")));
        assert!(sql.contains(&format!("CREATE TABLE IF NOT EXISTS `{db}`.`sandbox_schema_migrations`")));
    }
    for (user, pw) in [("server", "s3cr3t"), ("signer", "t0ps3cr3t")] {
        let auth = format!("IDENTIFIED /*!80000 WITH mysql_native_password */ BY '{pw}';");
        assert!(sql.contains(&format!("CREATE USER IF NOT EXISTS '{user}'@'%' {auth}")));
        assert!(sql.contains(&format!("ALTER USER '{user}'@'%' {auth}")));
    }
    // Every statement is terminated.
    for line in sql.lines().filter(|l| !l.starts_with("--")) {
        if line.starts_with("CREATE USER") || line.starts_with("GRANT") {
            assert!(line.ends_with(';'), "{line}");
        }
    }
}

#[test]
fn bootstrap_grants_only_own_database() {
    let sql = bootstrap_sql(&DB_NAMES, "server", "a", "signer", "b");
    let grants: Vec<&str> = sql.lines().filter(|l| l.starts_with("GRANT")).collect();
    assert_eq!(
        grants,
        [
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `notaryserver`.* TO 'server'@'%';",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `notarysigner`.* TO 'signer'@'%';",
        ]
    );
    assert!(!sql.contains("*.*"));
    assert!(!sql.contains("ALL PRIVILEGES ON"));
    assert!(!sql.contains("WITH GRANT OPTION"));
    // Privileges converge: anything granted before is revoked first.
    for user in ["server", "signer"] {
        let revoke = format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'%';");
        let grant_at = sql.find(&format!("TO '{user}'@'%';")).unwrap();
        assert!(sql.find(&revoke).unwrap() < grant_at);
    }
}

#[test]
fn applied_query_targets_tracking_table() {
    assert_eq!(
        applied_query(SIGNER_DB),
        "SELECT `version`, `checksum` FROM `notarysigner`.`sandbox_schema_migrations` \
             ORDER BY `version`;\n"
    );
}
