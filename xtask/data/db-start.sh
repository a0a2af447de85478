#!/bin/sh
# Starts the sandbox's trust database. The same script serves both image sources: MariaDB (Debian
# image) and MySQL 8.4 (Nix image). The datadir is a named volume, initialised here on first start;
# root is reachable only over the unix socket (the xtask applies schema and users through it).
set -eu
datadir=/var/lib/mysql
sock=/run/mysqld/mysqld.sock
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld

if command -v mariadbd >/dev/null 2>&1; then
    if [ ! -d "$datadir/mysql" ]; then
        echo "db-start: initialising MariaDB datadir"
        mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
            --auth-root-authentication-method=socket >/dev/null
    fi
    exec mariadbd --user=mysql --datadir="$datadir" --socket="$sock" \
        --bind-address=0.0.0.0 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
fi

if [ ! -d "$datadir/mysql" ]; then
    echo "db-start: initialising MySQL datadir"
    mysqld --initialize-insecure --user=mysql --datadir="$datadir"
fi
# The notary accounts use mysql_native_password (the one plugin every notary 0.7 build's Go driver
# speaks), which MySQL 8.4 ships disabled.
exec mysqld --user=mysql --datadir="$datadir" --socket="$sock" \
    --bind-address=0.0.0.0 --skip-name-resolve --mysql-native-password=ON \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
