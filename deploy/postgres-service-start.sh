#!/bin/sh
# A PostgreSQL backing service (`paas postgres:create`): runs as postgres (no root step), its
# cluster in the data volume, made on first start with the superuser paas, whose password is
# POSTGRES_PASSWORD, and the database named after the service. Listens on TCP on its own
# network (only linked apps' containers are on it), password (SCRAM) required there.
set -eu

data=/var/lib/postgresql/data
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
database=$(printf '%s' "$PAAS_SERVICE" | tr - _)

case "$database" in
    ''|*[!a-z0-9_]*) echo "postgres: bad service name" >&2; exit 1 ;;
esac

if [ ! -s "$data/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
    "$bin/initdb" --pgdata="$data" --username=paas --pwfile="$password_file" \
        --encoding=UTF8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$password_file"
    printf 'local all all trust\nhost all all all scram-sha-256\n' >"$data/pg_hba.conf"
    # Single-user mode: no server (and no port) until the database exists.
    printf 'CREATE DATABASE "%s" OWNER paas;\n' "$database" \
        | "$bin/postgres" --single -D "$data" postgres >/dev/null
    echo "postgres: made the cluster in $data (role paas, database $database)"
fi
unset POSTGRES_PASSWORD

exec "$bin/postgres" -D "$data" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql
