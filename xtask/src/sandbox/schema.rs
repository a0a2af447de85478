//! The DB-schema glue: one exec bootstraps users and databases and reads what each database has
//! applied; then the missing migrations apply once, in order.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::state::Secrets;
use super::{config, db, Sandbox};
use crate::ui;

const SCHEMA_MARKER: &str = "-- applied in ";

/// A database and the (version, checksum) of each migration it has applied.
type AppliedIn = (&'static str, Vec<(u32, String)>);

/// Bootstrap (users and databases converge every time) followed by what each database has applied,
/// each list behind a marker line naming its database.
pub fn schema_state_sql(secrets: &Secrets) -> String {
    let mut sql = db::bootstrap_sql(
        &db::DB_NAMES,
        config::SERVER_DB_USER,
        &secrets.db_server_password,
        config::SIGNER_DB_USER,
        &secrets.db_signer_password,
    );
    for database in [db::SERVER_DB, db::SIGNER_DB] {
        sql.push_str(&format!("SELECT '{SCHEMA_MARKER}{database}';\n"));
        sql.push_str(&db::applied_query(database));
    }
    sql
}

/// Splits the output of [`schema_state_sql`] into each database's applied migrations.
fn split_applied(stdout: &str) -> Result<Vec<AppliedIn>> {
    let mut out = Vec::new();
    for database in [db::SERVER_DB, db::SIGNER_DB] {
        let marker = format!("{SCHEMA_MARKER}{database}");
        let start = stdout
            .lines()
            .position(|l| l.trim() == marker)
            .with_context(|| format!("the database did not report what {database} has applied"))?;
        let section: Vec<&str> = stdout.lines().skip(start + 1).take_while(|l| !l.starts_with(SCHEMA_MARKER)).collect();
        out.push((database, db::parse_applied(&section.join("\n"))?));
    }
    Ok(out)
}

/// Migrations apply once, in order, and are tracked.
pub fn apply_migrations(sh: &Shell, sb: &Sandbox, schema_state: &str) -> Result<()> {
    let all = db::migrations();
    let mut applied_now = 0;
    for (database, applied) in split_applied(schema_state)? {
        for m in db::plan(&all, &applied, database)? {
            let out = sb.sql(sh, &db::apply_sql(m))?;
            if !out.ok() {
                bail!("migration {} failed: {}", m.label(), out.combined().trim());
            }
            applied_now += 1;
            ui::status("Migrated", m.label());
        }
    }
    if applied_now == 0 {
        ui::info("Schema", "up to date");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_lists_are_split_per_database() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let out = format!("-- applied in notaryserver\n1\t{a}\n2\t{b}\n-- applied in notarysigner\n1\t{c}\n");
        let split = split_applied(&out).unwrap();
        assert_eq!(split[0], ("notaryserver", vec![(1, a.clone()), (2, b)]));
        assert_eq!(split[1], ("notarysigner", vec![(1, c)]));
        let empty = split_applied("-- applied in notaryserver\n-- applied in notarysigner\n").unwrap();
        assert!(empty.iter().all(|(_, applied)| applied.is_empty()));
        assert!(split_applied(&format!("1\t{a}\n")).is_err(), "no markers: the bootstrap did not run to the end");
    }

    #[test]
    fn schema_state_sql_bootstraps_then_reads_both_databases() {
        let s = crate::sandbox::state::Secrets {
            db_server_password: "a".into(),
            db_signer_password: "b".into(),
            signer_alias_passphrase: "c".into(),
            trust_root_passphrase: "d".into(),
            trust_repository_passphrase: "e".into(),
            registry_password: String::new(),
        };
        let sql = schema_state_sql(&s);
        let server = sql.find("-- applied in notaryserver").unwrap();
        assert!(sql.find("CREATE USER").unwrap() < server);
        assert!(server < sql.find("-- applied in notarysigner").unwrap());
    }
}
