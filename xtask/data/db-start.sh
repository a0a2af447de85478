#!/bin/sh
# Starts the sandbox's trust database. The same script serves both image sources: MariaDB (Debian
# image) and MySQL 8.4 (Nix image). The datadir is a named volume, initialised here on first start;
# root is reachable only over the unix socket (the xtask applies schema and users through it).
set -eu
datadir=/var/lib/mysql
# The socket, its lock and the pid file live in /run/mysqld, on a tmpfs (sandbox.json), so that an
# unclean stop leaves none of them behind; the tmpfs starts empty, hence the mkdir below. The pid
# file would otherwise default to the datadir, on the volume.
sock=/run/mysqld/mysqld.sock
pid=/run/mysqld/mysqld.pid
# Written only once the first initialisation has finished: a start killed half-way through it
# leaves a datadir that looks initialised ("mysql/" exists) but is not, or InnoDB files without
# "mysql/" (killed earlier still), and InnoDB then refuses it for good. Without the marker, a
# datadir that has no notary database yet holds no trust data (the xtask creates the databases
# right after the first start), so it is provably safe to empty and initialise again; one that
# has them is a complete datadir from before the marker existed.
done_marker="$datadir/.trust-sandbox-initialised"
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld

# Whether a directory holds anything, hidden files included (shell only: no ls in the loop).
holds_files() {
    for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        [ -e "$f" ] && return 0
    done
    return 1
}

if [ ! -f "$done_marker" ]; then
    if [ -d "$datadir/notaryserver" ] || [ -d "$datadir/notarysigner" ]; then
        : >"$done_marker"
    elif holds_files "$datadir"; then
        echo "db-start: the first initialisation of this datadir never finished; initialising it again"
        rm -rf "${datadir:?}"/* "$datadir"/.[!.]* "$datadir"/..?* 2>/dev/null || true
    fi
fi

if command -v mariadbd >/dev/null 2>&1; then
    if [ ! -d "$datadir/mysql" ]; then
        echo "db-start: initialising MariaDB datadir"
        mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
            --auth-root-authentication-method=socket >/dev/null
        : >"$done_marker"
    fi
    exec mariadbd --user=mysql --datadir="$datadir" --socket="$sock" --pid-file="$pid" \
        --bind-address=0.0.0.0 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
fi

if [ ! -d "$datadir/mysql" ]; then
    echo "db-start: initialising MySQL datadir"
    mysqld --initialize-insecure --user=mysql --datadir="$datadir"
    : >"$done_marker"
fi
# The notary accounts use mysql_native_password (the one plugin every notary 0.7 build's Go driver
# speaks), which MySQL 8.4 ships disabled. The X Plugin is off: nothing here speaks its protocol,
# and its socket lock would sit in /tmp, outside the tmpfs.
exec mysqld --user=mysql --datadir="$datadir" --socket="$sock" --pid-file="$pid" --mysqlx=OFF \
    --bind-address=0.0.0.0 --skip-name-resolve --mysql-native-password=ON \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
