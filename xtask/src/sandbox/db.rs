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
        Migration::from_file($db, $stem, include_str!(concat!("../../sql/", $db, "/", $stem, ".sql")))
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
mod tests;
