#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and CI, from Debian's server packages (installed if missing).
#   postgres.sh start     init (once) and start; create role dispatch and its databases; idempotent
#   postgres.sh stop      fast shutdown; idempotent
#   postgres.sh restart   stop then start (the fault suite restarts the database mid-stream)
#   postgres.sh status    exit 0 if running
#   postgres.sh url [DB]  the SQLAlchemy URL of DB (default dispatch)
# Settings: PG_DIR (.run/pg), PG_PORT (55432). Trust authentication on 127.0.0.1 only: never
# use this cluster for real data.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=${PG_PORT:-55432}
DATABASES=(dispatch dispatch_intake dispatch_triage dispatch_routing dispatch_test)

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -z $dir || ! -x $dir/initdb ]]; then
    echo "postgres: installing the server packages" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$dir"
}

# The server runs as the postgres user, which must be able to reach the cluster directory.
cluster_dir() {
  local dir=${PG_DIR:-$ROOT/.run/pg}
  mkdir -p "$(dirname "$dir")"
  if [[ $(id -u) == 0 ]] && ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
    dir=/tmp/dispatch-pg-$(echo "$ROOT" | sha1sum | cut -c1-10)
  fi
  echo "$dir"
}

as_postgres() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

DIR=$(cluster_dir)
DATA=$DIR/data

running() { [[ -f $DATA/postmaster.pid ]] && as_postgres "$(pg_bin)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  local bin
  bin=$(pg_bin)
  if running; then
    echo "postgres: already running (port $PORT)"
    return
  fi
  mkdir -p "$DIR"
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$DIR"
  if [[ ! -f $DATA/PG_VERSION ]]; then
    as_postgres "$bin/initdb" -D "$DATA" --auth=trust --username=postgres --encoding=UTF8 >/dev/null
  fi
  # Durability settings off: this cluster holds test data only, and tests should be quick.
  as_postgres "$bin/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start -o \
    "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
  psql_admin -tc "SELECT 1 FROM pg_roles WHERE rolname='dispatch'" | grep -q 1 ||
    psql_admin -c "CREATE ROLE dispatch LOGIN CREATEDB" >/dev/null
  for db in "${DATABASES[@]}"; do
    psql_admin -tc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
      psql_admin -c "CREATE DATABASE $db OWNER dispatch" >/dev/null
  done
  echo "postgres: started (127.0.0.1:$PORT, data $DATA)"
}

psql_admin() { as_postgres psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"; }

stop() {
  if ! running; then
    echo "postgres: not running"
    return
  fi
  as_postgres "$(pg_bin)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  echo "postgres: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then echo "postgres: running (port $PORT)"; else echo "postgres: stopped"; exit 1; fi ;;
  url) echo "postgresql+psycopg://dispatch@127.0.0.1:$PORT/${2:-dispatch}" ;;
  *) echo "usage: $0 start|stop|restart|status|url [DB]" >&2; exit 2 ;;
esac
