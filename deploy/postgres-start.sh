#!/bin/sh
# PostgreSQL for the paas control plane: a cluster in the data volume, made on first start,
# that listens on its UNIX socket only (in the socket volume the control plane mounts), never
# on TCP. Peer authentication: the control plane's processes run as root, which pg_ident maps
# to the role paas; nothing else has the socket, and there is no password to keep.
set -eu

data=/var/lib/postgresql/data
socket_dir=/run/postgresql
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres="setpriv --reuid=postgres --regid=postgres --init-groups"

chown postgres:postgres "$data" "$socket_dir"
chmod 0700 "$data"
chmod 2775 "$socket_dir"

if [ ! -s "$data/PG_VERSION" ]; then
    $as_postgres "$bin/initdb" --pgdata="$data" --username=postgres --encoding=UTF8 \
        --auth-local=peer --auth-host=reject >/dev/null
    cat >"$data/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER      METHOD
local   all       postgres  peer
local   paas      paas      peer map=controlplane
HBA
    echo "controlplane  root  paas" >>"$data/pg_ident.conf"
    # Single-user mode: no server (and no socket) until the role and database exist.
    printf 'CREATE ROLE paas LOGIN;\nCREATE DATABASE paas OWNER paas;\n' \
        | $as_postgres "$bin/postgres" --single -D "$data" postgres >/dev/null
    echo "postgres: made the cluster in $data (role and database paas)"
fi

exec $as_postgres "$bin/postgres" -D "$data" -c listen_addresses='' \
    -c unix_socket_directories="$socket_dir"
