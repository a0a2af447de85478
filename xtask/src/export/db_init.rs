//! The database's schema without the xtask beside it. `up` bootstraps users and applies the
//! migrations through `exec` while it waits for the DB; an orchestrator has no such step, so the
//! exported DB container runs its usual command under a small entry script that does the same
//! once the server answers: the same bootstrap SQL (users, databases, tracking tables; a secret,
//! as it holds the passwords) and the same migration texts, each applied once, checked by checksum.

use anyhow::{bail, Result};

use crate::sandbox::state::Secrets;
use crate::sandbox::{config, db};

/// Where the exported DB container finds the two files.
pub const ENTRY_TARGET: &str = "/etc/sandbox/export/db-entry.sh";
pub const BOOTSTRAP_TARGET: &str = "/etc/sandbox/export/db-bootstrap.sql";
const EOF: &str = "TRUST_SANDBOX_SQL_EOF";

/// Users and databases, converging every time (the passwords make it a secret).
pub fn bootstrap_sql(secrets: &Secrets) -> String {
    db::bootstrap_sql(
        &db::DB_NAMES,
        config::SERVER_DB_USER,
        &secrets.db_server_password,
        config::SIGNER_DB_USER,
        &secrets.db_signer_password,
    )
}

/// `sh db-entry.sh <the service's command…>`: starts the DB, bootstraps and migrates it once it
/// answers, then stays with the server (signals forwarded, its exit status returned).
pub fn entry_script() -> Result<String> {
    let mut s = String::from(
        r#"#!/bin/sh
# Written by `cargo xtask sandbox export`: starts the trust database with its usual command, then
# applies what `up` applies through exec: the bootstrap (users, databases) and each migration once.
set -eu
"$@" &
db=$!
trap 'kill -TERM "$db" 2>/dev/null || true' TERM INT
fail() { echo "db-entry: $*" >&2; kill -TERM "$db" 2>/dev/null || true; wait "$db" || true; exit 1; }
c=$(command -v mariadb || command -v mysql)
sql() { "$c" --protocol=socket -S /run/mysqld/mysqld.sock -uroot --batch --skip-column-names "$@"; }
tries=0
until sql -e 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$db" 2>/dev/null || fail "the database exited before it answered"
    tries=$((tries + 1))
    [ "$tries" -lt 900 ] || fail "the database did not answer within 90 s"
    sleep 0.1
done
"#,
    );
    s.push_str(&format!("sql < {BOOTSTRAP_TARGET} || fail \"the bootstrap failed\"\n"));
    s.push_str(&format!(
        r#"migrate() {{
    got=$(sql -e "SELECT checksum FROM \`$1\`.\`{table}\` WHERE version = $2") || fail "reading $1's migrations"
    if [ -z "$got" ]; then
        sql || fail "migration $1/$2 failed"
        echo "db-entry: applied $1/$2"
    elif [ "$got" != "$3" ]; then
        fail "migration $1/$2 was edited after it was applied (recorded $got, file $3)"
    else
        cat >/dev/null
    fi
}}
"#,
        table = db::TRACKING_TABLE
    ));
    for m in db::migrations() {
        let body = db::apply_sql(&m);
        if body.lines().any(|l| l == EOF) {
            bail!("migration {} holds the line {EOF}, which ends the entry script's here-document", m.label());
        }
        s.push_str(&format!("migrate {} {} {} <<'{EOF}'\n{body}{EOF}\n", m.database, m.version, m.checksum()));
    }
    s.push_str(
        r#"echo "db-entry: schema ready"
set +e
wait "$db"
status=$?
# A signal interrupts `wait`; the server is still shutting down, so wait for it again.
if kill -0 "$db" 2>/dev/null; then wait "$db"; status=$?; fi
exit "$status"
"#,
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_applies_every_migration_by_version_and_checksum() {
        let s = entry_script().unwrap();
        for m in db::migrations() {
            let line = format!("migrate {} {} {} <<'{EOF}'", m.database, m.version, m.checksum());
            assert!(s.contains(&line), "{line}");
            assert!(s.contains(&db::apply_sql(&m)), "{}", m.label());
        }
        assert!(s.contains(&format!("sql < {BOOTSTRAP_TARGET}")));
        assert!(s.find("sql < ").unwrap() < s.find("migrate notaryserver 1").unwrap(), "bootstrap first");
    }

    #[test]
    fn entry_parses_as_posix_sh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-entry.sh");
        std::fs::write(&path, entry_script().unwrap()).unwrap();
        let out = std::process::Command::new("sh").arg("-n").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn passwords_go_to_the_bootstrap_only() {
        let secrets = Secrets {
            db_server_password: "srv-secret-pw".into(),
            db_signer_password: "sig-secret-pw".into(),
            signer_alias_passphrase: "a".into(),
            trust_root_passphrase: "b".into(),
            trust_repository_passphrase: "c".into(),
            registry_password: String::new(),
        };
        let boot = bootstrap_sql(&secrets);
        assert!(boot.contains("'srv-secret-pw'") && boot.contains("'sig-secret-pw'"));
        assert!(!entry_script().unwrap().contains("secret-pw"));
    }
}
