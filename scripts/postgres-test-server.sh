#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: a cluster made with initdb in a temporary folder,
# run with pg_ctl on a free loopback port as an unprivileged user (postgres when run as root), its
# superuser with a password. DIR keeps the URI and the cluster's folder; `stop` stops the server
# and removes both.
#   scripts/postgres-test-server.sh start DIR   prints the server's URI and writes it to DIR/uri
#   scripts/postgres-test-server.sh stop DIR
# CTest starts one for the tests that need it (the fixture `postgres`); scripts/test.sh installs
# Debian's postgresql first.
set -euo pipefail
action=${1:?usage: postgres-test-server.sh start|stop DIR}
dir=${2:?usage: postgres-test-server.sh start|stop DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ]; then
  echo "postgres-test-server: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
# The server refuses to run as root: as root it runs as the postgres user the package made.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $action in
  start)
    if [ -f "$dir/uri" ] && as_owner "$bindir/pg_ctl" -D "$(cat "$dir/cluster")/data" status >/dev/null 2>&1; then
      cat "$dir/uri"
      exit 0
    fi
    "$0" stop "$dir"
    mkdir -p "$dir"
    # In /tmp, which the unprivileged user can reach wherever the checkout is.
    cluster=$(mktemp -d /tmp/seke-postgres.XXXXXX)
    printf '%s\n' "$cluster" >"$dir/cluster"
    [ "$(id -u)" -eq 0 ] && chown postgres "$cluster"
    password=seke-test-$RANDOM$RANDOM
    (umask 077 && printf '%s\n' "$password" >"$cluster/password")
    [ "$(id -u)" -eq 0 ] && chown postgres "$cluster/password"
    # The superuser seke (with a password) is what tests connect as.
    if ! as_owner "$bindir/initdb" -D "$cluster/data" -U seke --pwfile="$cluster/password" -A scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$cluster/initdb.log" 2>&1; then
      echo "postgres-test-server: initdb failed:" >&2
      cat "$cluster/initdb.log" >&2
      exit 1
    fi
    # A free port: one nothing answers on, then start on it (another port if that fails).
    for attempt in 1 2 3 4 5; do
      port=$(( (RANDOM % 20000) + 30000 ))
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
      if as_owner "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $cluster -c max_connections=300" start >/dev/null; then
        uri="postgresql://seke:$password@127.0.0.1:$port/postgres"
        printf '%s\n' "$uri" >"$dir/uri"
        echo "$uri"
        exit 0
      fi
    done
    echo "postgres-test-server: the server did not start; its log:" >&2
    cat "$cluster/server.log" >&2 || true
    exit 1
    ;;
  stop)
    if [ -f "$dir/cluster" ]; then
      cluster=$(cat "$dir/cluster")
      case $cluster in /tmp/seke-postgres.*) ;; *) echo "postgres-test-server: odd cluster $cluster" >&2; exit 1 ;; esac
      if [ -d "$cluster/data" ]; then
        as_owner "$bindir/pg_ctl" -D "$cluster/data" -m immediate -w stop >/dev/null 2>&1 || true
      fi
      rm -rf "$cluster"
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres-test-server.sh start|stop DIR" >&2
    exit 2
    ;;
esac
