#!/bin/sh
# A Redis backing service: runs as redis, its data (an append-only file and snapshots) in the
# data volume, a password required (REDIS_PASSWORD), listening on its own network only (only
# linked apps' containers are on it). The configuration goes in on stdin, so the password is
# in no file and no command line; exec with a here-document keeps redis-server PID 1, so it
# gets the SIGTERM of a stop and saves before it exits.
set -eu

password=$REDIS_PASSWORD
unset REDIS_PASSWORD
case "$password" in
    ''|*[!A-Za-z0-9]*) echo "redis: bad password" >&2; exit 1 ;;
esac

exec redis-server - <<CONFIG
bind 0.0.0.0
port 6379
protected-mode no
requirepass $password
dir /var/lib/redis
appendonly yes
appendfsync everysec
save 60 1
daemonize no
logfile ""
CONFIG
