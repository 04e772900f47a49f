#!/usr/bin/env bash
# A real, throwaway PostgreSQL 15 cluster for development, tests and CI, run from Debian's
# server packages (installed when missing); no Docker.
#   postgres.sh start     init (once) and start; create role dispatch and its databases; idempotent
#   postgres.sh stop      fast shutdown; idempotent
#   postgres.sh restart   stop then start (the fault suite restarts the database mid-stream)
#   postgres.sh status    exit 0 and print where it runs if running, else exit 1
#   postgres.sh url [DB]  the SQLAlchemy URL of DB (default dispatch)
# Settings (environment): PG_DIR (.run/pg), PG_PORT (15432), PG_START_TIMEOUT (60 s).
# Trust authentication, 127.0.0.1 only, fsync off: never keep real data in this cluster.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Below the ephemeral range (32768+): a client socket lingering in TIME_WAIT on the port
# would otherwise stop the server from binding it, as happened on a restart here.
PORT=${PG_PORT:-15432}
TIMEOUT=${PG_START_TIMEOUT:-60}
OWNER=dispatch
DATABASES=(dispatch dispatch_intake dispatch_triage dispatch_routing dispatch_test)
# fsync and friends off: the cluster holds test data only, and tests should be quick.
SERVER_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"

# --- locations ---------------------------------------------------------------------------------

# The cluster directory. PostgreSQL refuses to run as root, so as root the server runs as the
# postgres user, which must be able to reach the directory; the Unix socket inside it must also
# fit the kernel's 107-byte socket path limit. Otherwise: a directory under /tmp keyed by a hash
# of the wanted path (one per checkout), which `start` reports.
resolve_dir() {
  local want parent
  want=$(realpath -m "${PG_DIR:-$ROOT/.run/pg}")
  parent=$(dirname "$want")
  if ((${#want} + ${#PORT} + 10 <= 107)); then # 10 = "/.s.PGSQL."
    if [[ $(id -u) != 0 ]]; then
      echo "$want"
      return
    fi
    mkdir -p "$parent"
    # Root creates the directory and hands it over; postgres only needs to get through the
    # parent, and access(2) checks search permission on every ancestor too.
    if runuser -u postgres -- test -x "$parent" 2>/dev/null; then
      echo "$want"
      return
    fi
  fi
  echo "/tmp/dispatch-pg-$(printf %s "$want" | sha1sum | cut -c1-12)"
}

# Sets DIR, DATA and LOG (not needed by `url`, which must stay instant and side-effect free).
init_paths() {
  DIR=$(resolve_dir)
  DATA=$DIR/data
  LOG=$DIR/server.log
}

# The server binaries. An existing cluster must be run by the major version that made it;
# a new one gets 15 when installed, else the newest installed.
find_bin() {
  local dir
  if [[ -f $DATA/PG_VERSION ]]; then
    dir=/usr/lib/postgresql/$(<"$DATA/PG_VERSION")/bin
  elif [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    dir=/usr/lib/postgresql/15/bin
  else
    dir=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' -printf '%h\n' 2>/dev/null |
      sort -V | tail -n 1)
  fi
  [[ -n $dir && -x $dir/pg_ctl ]] || return 1
  echo "$dir"
}

install_server() {
  echo "postgres: installing the PostgreSQL server packages (first run only)"
  apt-get update -qq >/dev/null
  # postgresql-15 where Debian has it (bookworm); the distribution's default version elsewhere.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

as_postgres() {
  # cd /: the postgres user may not be allowed into the caller's working directory.
  if [[ $(id -u) == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# --- subcommands -------------------------------------------------------------------------------

running() {
  local bin
  [[ -f $DATA/postmaster.pid ]] && bin=$(find_bin) &&
    as_postgres "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# The port the running server listens on (line 4 of postmaster.pid), which may differ from
# PG_PORT if it was started with another.
running_port() { sed -n 4p "$DATA/postmaster.pid"; }

psql_admin() {
  "$BIN/psql" -X -q -h 127.0.0.1 -p "$(running_port)" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 "$@"
}

# Role dispatch and its databases; cheap, so run on every start to repair a dropped database.
ensure_databases() {
  local existing db
  psql_admin -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$OWNER') THEN
        CREATE ROLE $OWNER LOGIN CREATEDB;
      END IF;
    END \$\$;"
  # DROP DATABASE ... WITH (FORCE), used by the tests, must also end an autovacuum worker that
  # happens to be in the database; only members of pg_signal_backend may.
  psql_admin -c "DO \$\$ BEGIN
      IF NOT pg_has_role('$OWNER', 'pg_signal_backend', 'member') THEN
        GRANT pg_signal_backend TO $OWNER;
      END IF;
    END \$\$;"
  existing=$(psql_admin -At -c "SELECT datname FROM pg_database")
  for db in "${DATABASES[@]}"; do
    # CREATE DATABASE cannot run inside a DO block, hence one statement each.
    grep -qxF "$db" <<<"$existing" || psql_admin -c "CREATE DATABASE $db OWNER $OWNER"
  done
}

start() {
  if ! BIN=$(find_bin); then
    install_server
    BIN=$(find_bin) || {
      echo "postgres: no server binaries under /usr/lib/postgresql after installing" >&2
      exit 1
    }
  fi
  if [[ $DIR != "$(realpath -m "${PG_DIR:-$ROOT/.run/pg}")" ]]; then
    echo "postgres: the postgres user cannot use $(realpath -m "${PG_DIR:-$ROOT/.run/pg}")" \
      "(path not traversable, or too long for a socket); using $DIR" >&2
  fi
  if running; then
    if [[ $(running_port) != "$PORT" ]]; then
      echo "postgres: warning: running on port $(running_port), not PG_PORT=$PORT" >&2
    fi
    ensure_databases
    echo "postgres: already running (127.0.0.1:$(running_port), data $DATA)"
    return 0
  fi
  mkdir -p "$DIR"
  if [[ $(id -u) == 0 ]]; then chown -R postgres:postgres "$DIR"; fi
  if [[ ! -f $DATA/PG_VERSION ]]; then
    # --no-locale: the same collation on every machine; --no-sync: a test cluster needs no fsync.
    as_postgres "$BIN/initdb" -D "$DATA" --auth=trust --username=postgres --encoding=UTF8 \
      --no-locale --no-sync --no-instructions >/dev/null
  fi
  # -h: TCP on 127.0.0.1 only; -k: the Unix socket stays inside the cluster directory rather than
  # /var/run/postgresql, which may not exist. -w waits for start-up to finish.
  if ! as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$TIMEOUT" start \
    -o "-h 127.0.0.1 -p $PORT -k '$DIR' $SERVER_SETTINGS" >/dev/null; then
    echo "postgres: the server did not start; last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2 || true
    exit 1
  fi
  # pg_ctl -w trusts postmaster.pid; pg_isready proves a client gets through on TCP.
  local deadline=$((SECONDS + TIMEOUT))
  until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; do
    if ((SECONDS >= deadline)); then
      echo "postgres: not accepting connections after ${TIMEOUT}s; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  ensure_databases
  echo "postgres: started (127.0.0.1:$PORT, data $DATA)"
}

stop() {
  if ! running; then
    echo "postgres: not running"
    return 0
  fi
  # Fast: roll back open transactions and disconnect clients instead of waiting for them.
  as_postgres "$(find_bin)/pg_ctl" -D "$DATA" -m fast -w -t "$TIMEOUT" stop >/dev/null
  echo "postgres: stopped"
}

status() {
  if running; then
    echo "postgres: running (pid $(sed -n 1p "$DATA/postmaster.pid"), 127.0.0.1:$(running_port), data $DATA)"
  else
    echo "postgres: not running"
    return 1
  fi
}

case "${1:-}" in
  start)
    init_paths
    start
    ;;
  stop)
    init_paths
    stop
    ;;
  restart)
    init_paths
    stop
    start
    ;;
  status)
    init_paths
    status
    ;;
  url) echo "postgresql+psycopg://$OWNER@127.0.0.1:$PORT/${2:-$OWNER}" ;;
  *)
    echo "usage: $0 start|stop|restart|status|url [DB]" >&2
    exit 2
    ;;
esac
