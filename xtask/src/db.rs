//! Schema ownership for the notary databases.
//!
//! notary-server and notary-signer 0.7.0 never create their tables (gorm's
//! AutoMigrate is only reached from notary's own tests) and Debian ships no
//! migrations, so this project carries its own ordered SQL files under
//! `xtask/sql/<database>/NNNN_<name>.sql` and tracks what was applied in a
//! `sandbox_schema_migrations` table inside each database.
//!
//! Everything here is pure: it builds SQL text and parses client output. The
//! caller pipes the text into `mysql -uroot --batch --skip-column-names` inside
//! the DB container (root over the unix socket) and feeds the output back.
//! Each piece of text is self-contained (it names or `USE`s its database), so
//! it works over stdin with no default database selected.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// Database owned by notary-server.
pub const SERVER_DB: &str = "notaryserver";
/// Database owned by notary-signer.
pub const SIGNER_DB: &str = "notarysigner";
/// Per-database table recording applied migrations.
pub const TRACKING_TABLE: &str = "sandbox_schema_migrations";

/// Privileges granted to each service account on its own database only.
///
/// notary's storage code does plain DML through gorm: SELECT/INSERT, UPDATE
/// (gorm `Updates`, the signer's `last_used` marker and soft deletes) and
/// DELETE (notary-server hard-deletes a repository's rows). Its health checks
/// read `INFORMATION_SCHEMA.TABLES`, which needs no grant beyond having some
/// privilege on the table. No DDL, REFERENCES, LOCK TABLES or EXECUTE: the
/// schema is ours, applied as root.
pub const SERVICE_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE";

/// One schema migration: `sql/<database>/<version:04>_<name>.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub database: &'static str,
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// Lowercase hex SHA-256 of the migration text, as stored in the tracking
    /// table. CRLF is folded to LF first so a checkout with `core.autocrlf`
    /// does not look like an edited migration.
    pub fn checksum(&self) -> String {
        sha256_hex(&self.sql.replace("\r\n", "\n"))
    }

    /// `database/NNNN_name`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{:04}_{}", self.database, self.version, self.name)
    }

    /// Builds a migration from its file stem `NNNN_name`.
    ///
    /// Panics on a malformed stem: the list below is fixed at compile time and
    /// covered by tests, so this is a programming error, not input.
    fn from_file(database: &'static str, stem: &'static str, sql: &'static str) -> Self {
        let (version, name) = stem
            .split_once('_')
            .and_then(|(v, n)| Some((v.parse().ok()?, n)))
            .filter(|(_, n): &(u32, &str)| !n.is_empty())
            .unwrap_or_else(|| panic!("migration file {database}/{stem}.sql is not NNNN_name.sql"));
        Migration { database, version, name, sql }
    }
}

macro_rules! migration {
    ($db:literal, $stem:literal) => {
        Migration::from_file($db, $stem, include_str!(concat!("../sql/", $db, "/", $stem, ".sql")))
    };
}

/// Every migration this tool knows, sorted by (database, version).
pub fn migrations() -> Vec<Migration> {
    let mut all = vec![
        migration!("notaryserver", "0001_tuf_files"),
        migration!("notaryserver", "0002_changefeed"),
        migration!("notarysigner", "0001_private_keys"),
    ];
    all.sort_by(|a, b| (a.database, a.version).cmp(&(b.database, b.version)));
    all
}

/// Names of the two notary databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbNames<'a> {
    pub server: &'a str,
    pub signer: &'a str,
}

/// The names the migrations in [`migrations`] are written for.
pub const DB_NAMES: DbNames<'static> = DbNames { server: SERVER_DB, signer: SIGNER_DB };

impl Default for DbNames<'static> {
    fn default() -> Self {
        DB_NAMES
    }
}

/// Idempotent bootstrap, run as root before any migration: both databases,
/// their tracking tables, and one account per service that can touch only its
/// own database. Re-running it with new passwords converges the accounts.
///
/// Authentication: the accounts use `mysql_native_password`. The v0.7.0 tag's
/// go.mod pins go-sql-driver/mysql v1.3.0, which only speaks the native
/// scramble (it answers any other auth-switch with "unknown plugin"). Debian's
/// binaries and the later revision the Nix path builds vendor newer drivers
/// that could use `caching_sha2_password`, but the one account type every
/// notary 0.7 build accepts keeps the paths alike.
///
/// Portability: `IDENTIFIED WITH mysql_native_password BY` is MySQL syntax that
/// MariaDB 10.11 rejects, while MariaDB's plain `IDENTIFIED BY` already means
/// mysql_native_password. The `WITH` clause therefore sits in a `/*!80000 */`
/// comment: MySQL >= 8.0 executes it, MariaDB ignores MySQL 8 version comments.
///
/// MySQL 8.4 ships the native plugin disabled, so the Nix MySQL config must
/// set, in `[mysqld]`:
///
/// ```text
/// mysql_native_password = ON
/// ```
///
/// (or start mysqld with `--mysql-native-password=ON`). Without it the
/// `CREATE USER` below fails with "Plugin 'mysql_native_password' is not
/// loaded" (error 1524) — a loud failure rather than accounts notary cannot use.
/// MySQL 9.x removed the plugin entirely; notary 0.7.0 cannot use it.
///
/// Strings are escaped for the default SQL mode (backslash escapes on, as in a
/// root `mysql` session without `NO_BACKSLASH_ESCAPES`); identifiers are
/// backtick-quoted.
pub fn bootstrap_sql(
    db_names: &DbNames<'_>,
    server_user: &str,
    server_password: &str,
    signer_user: &str,
    signer_password: &str,
) -> String {
    let mut out = String::from("-- trust-sandbox bootstrap (idempotent)\n");
    for db in [db_names.server, db_names.signer] {
        let db = quote_ident(db);
        let table = quote_ident(TRACKING_TABLE);
        // A binary default collation so tables created later without an
        // explicit COLLATE still compare notary's identifiers byte-for-byte.
        let _ = writeln!(out, "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;");
        let _ = writeln!(
            out,
            "CREATE TABLE IF NOT EXISTS {db}.{table} (\n  \
             `version` INT NOT NULL PRIMARY KEY,\n  \
             `name` VARCHAR(255) NOT NULL,\n  \
             `checksum` CHAR(64) NOT NULL,\n  \
             `applied_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;"
        );
    }
    for (user, password, db) in
        [(server_user, server_password, db_names.server), (signer_user, signer_password, db_names.signer)]
    {
        let account = format!("{}@'%'", quote_str(user));
        let password = quote_str(password);
        let db = quote_ident(db);
        let auth = "IDENTIFIED /*!80000 WITH mysql_native_password */ BY";
        let _ = writeln!(out, "CREATE USER IF NOT EXISTS {account} {auth} {password};");
        let _ = writeln!(out, "ALTER USER {account} {auth} {password};");
        // Drop whatever an earlier bootstrap (or a person) granted so the
        // account converges to exactly the grant below.
        let _ = writeln!(out, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account};");
        let _ = writeln!(out, "GRANT {SERVICE_PRIVILEGES} ON {db}.* TO {account};");
    }
    out
}

/// Query listing the applied migrations of `database`, oldest first. Output
/// (with `--batch --skip-column-names`) is what [`parse_applied`] reads.
pub fn applied_query(database: &str) -> String {
    format!(
        "SELECT `version`, `checksum` FROM {}.{} ORDER BY `version`;\n",
        quote_ident(database),
        quote_ident(TRACKING_TABLE)
    )
}

/// Parses `mysql --batch --skip-column-names` output of [`applied_query`]:
/// one `version<TAB>checksum` line per applied migration.
pub fn parse_applied(stdout: &str) -> Result<Vec<(u32, String)>> {
    let mut rows = Vec::new();
    for (index, line) in stdout.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let lineno = index + 1;
        let fields: Vec<&str> = line.split('\t').collect();
        let [version, checksum] = fields[..] else {
            bail!(
                "line {lineno} of the applied-migrations query has {} column(s), expected 2 \
                 (version, checksum): {line:?}",
                fields.len()
            );
        };
        let version: u32 = version
            .trim()
            .parse()
            .with_context(|| format!("line {lineno} of the applied-migrations query: bad version {version:?}"))?;
        let checksum = checksum.trim();
        if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "line {lineno} of the applied-migrations query: checksum {checksum:?} of version \
                 {version} is not a 64-digit hex SHA-256"
            );
        }
        rows.push((version, checksum.to_ascii_lowercase()));
    }
    Ok(rows)
}

/// The migrations of `database` still to apply, in order.
///
/// Refuses to plan when the recorded state and the files disagree: an applied
/// version whose file changed since, an applied version this tool does not
/// know, or a pending version older than one already applied.
pub fn plan<'a>(all: &'a [Migration], applied: &[(u32, String)], database: &str) -> Result<Vec<&'a Migration>> {
    let mut known: BTreeMap<u32, &'a Migration> = BTreeMap::new();
    for m in all.iter().filter(|m| m.database == database) {
        if let Some(other) = known.insert(m.version, m) {
            bail!(
                "two migrations for database {database} share version {}: {} and {}",
                m.version,
                other.label(),
                m.label()
            );
        }
    }
    if known.is_empty() {
        bail!("no migrations are known for database {database:?}");
    }

    let mut done = BTreeSet::new();
    for (version, recorded) in applied {
        if !done.insert(*version) {
            bail!("database {database} records migration version {version} as applied twice");
        }
        let Some(m) = known.get(version) else {
            let newest = known.keys().next_back().copied().unwrap_or_default();
            bail!(
                "database {database} has migration version {version} applied, but this tool only \
                 knows versions up to {newest}: the database was migrated by a newer trust-sandbox. \
                 Use that version, or reset the sandbox's database volume"
            );
        };
        let expected = m.checksum();
        if !recorded.eq_ignore_ascii_case(&expected) {
            bail!(
                "migration {} was edited after it was applied: the database recorded sha256 \
                 {recorded}, the file now hashes to {expected}. Never change an applied \
                 migration; restore it and add a new file (or reset the sandbox's database volume)",
                m.label()
            );
        }
    }

    let pending: Vec<&'a Migration> = known.values().filter(|m| !done.contains(&m.version)).copied().collect();
    let newest_applied = done.iter().next_back().copied();
    if let Some(first) = pending.first().filter(|m| newest_applied.is_some_and(|newest| m.version < newest)) {
        bail!(
            "migration {} is not applied but version {} already is: migrations must be added \
             after the newest applied one, not inserted before it",
            first.label(),
            newest_applied.unwrap_or_default()
        );
    }
    Ok(pending)
}

/// The text to pipe into `mysql` to apply `m`: selects its database, runs the
/// migration, then records it. The client stops at the first error, so the
/// tracking row is only written once every statement succeeded.
pub fn apply_sql(m: &Migration) -> String {
    format!(
        "-- trust-sandbox migration {label}\nUSE {db};\n{sql}\nINSERT INTO {table} (`version`, `name`, \
         `checksum`) VALUES ({version}, {name}, {checksum});\n",
        label = m.label(),
        db = quote_ident(m.database),
        sql = m.sql.trim_end(),
        table = quote_ident(TRACKING_TABLE),
        version = m.version,
        name = quote_str(m.name),
        checksum = quote_str(&m.checksum()),
    )
}

/// Lowercase hex SHA-256. sha2 0.11 returns a `hybrid_array::Array`, which
/// has no `LowerHex`, so the bytes are formatted by hand.
fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A single-quoted SQL string literal. A quote is doubled (`''`), which is
/// safe in every SQL mode, so no value can end the literal early even under
/// `NO_BACKSLASH_ESCAPES`; backslash, NUL, CR, LF and Ctrl-Z get the
/// backslash escapes of `mysql_real_escape_string` (default SQL mode).
fn quote_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A backtick-quoted identifier (embedded backticks doubled).
fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
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
}
