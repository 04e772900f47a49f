#!/usr/bin/env bash
# The local stack: Kafka and the three services as background processes.
#   stack.sh up     start what is not running, wait until every /readyz answers 200; if start-up
#                   fails, stop again what this start-up launched (Kafka, services) and exit non-zero
#   stack.sh down   stop the services, then Kafka
#   stack.sh run    up, then follow the logs in the foreground; Ctrl-C stops everything
#   stack.sh status one line per process
# State lives in .run/: <name>.pid, logs/<name>.log, and the SQLite databases.
# A private stack beside another: RUN_DIR (then the services' SQLite databases are there too,
# unless DATABASE_URL is set here or in .env), KAFKA_PORT and KAFKA_CONTROLLER_PORT (then KAFKA_PORT is the
# services' broker, unless KAFKA_BOOTSTRAP_SERVERS is set here or in .env), INTAKE_PORT, TRIAGE_PORT, ROUTING_PORT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUN_DIR=${RUN_DIR:-$ROOT/.run}
export RUN_DIR
LOGS=$RUN_DIR/logs
# Whether the checkout's .env (read by the services) sets the setting $1.
env_file_sets() { [[ -f $ROOT/.env ]] && grep -qE "^[[:space:]]*(export[[:space:]]+)?$1=" "$ROOT/.env"; }
if [[ -n ${KAFKA_PORT:-} && -z ${KAFKA_BOOTSTRAP_SERVERS:-} ]] && ! env_file_sets KAFKA_BOOTSTRAP_SERVERS; then
  export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
fi
SERVICES=(intake triage routing)
READY_TIMEOUT=${READY_TIMEOUT:-90}
# The demo roster (deploy/local/units.json) is in Seattle; its day team's hours are read there.
export AGENCY_TIMEZONE=${AGENCY_TIMEZONE:-America/Los_Angeles}

declare -A PORT=([intake]=${INTAKE_PORT:-8001} [triage]=${TRIAGE_PORT:-8002} [routing]=${ROUTING_PORT:-8003})

# Alive and not a zombie: an exited child may linger until init reaps it, and kill -0 still works.
running_pid() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ -n $state && $state != Z* ]]; }
alive() { [[ -f $RUN_DIR/$1.pid ]] && running_pid "$(cat "$RUN_DIR/$1.pid")"; }

start_service() {
  local name=$1
  if alive "$name"; then
    echo "$name: already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return
  fi
  # Set only when moved: an empty DATABASE_URL in the environment would hide one in .env.
  local database=()
  if [[ -z ${DATABASE_URL:-} && $RUN_DIR != "$ROOT/.run" ]] && ! env_file_sets DATABASE_URL; then
    database=("DATABASE_URL=sqlite:///$RUN_DIR/$name.db")
  fi
  setsid nohup env "${database[@]}" ".venv/bin/$name" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
  STARTED+=("$name")
  echo "$name: started (pid $!, port ${PORT[$name]}, log $LOGS/$name.log)"
}

wait_ready() {
  local name=$1 url="http://127.0.0.1:${PORT[$1]}/readyz" deadline=$((SECONDS + READY_TIMEOUT))
  # --max-time: something else listening on the port (not answering HTTP) must not hang us here.
  until curl -fsS --max-time 2 -o /dev/null "$url" 2>/dev/null; do
    if ! alive "$name"; then
      echo "$name: exited during start-up; last log lines:" >&2
      tail -n 20 "$LOGS/$name.log" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "$name: not ready after ${READY_TIMEOUT}s ($url); last log lines:" >&2
      tail -n 20 "$LOGS/$name.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$name: ready"
}

stop_pid() {
  local name=$1
  if ! alive "$name"; then
    rm -f "$RUN_DIR/$name.pid"
    return
  fi
  local pid
  pid=$(cat "$RUN_DIR/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do running_pid "$pid" || break; sleep 0.5; done
  if running_pid "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$RUN_DIR/$name.pid"
  echo "$name: stopped"
}

# What this start-up launched (kafka and services), so a failed start-up stops exactly that and
# leaves alone what was running before it (a broker or a service of an earlier `make up`).
STARTED=()

# EXIT trap while starting: on failure (any non-zero exit, set -e included) stop what we started.
undo_failed_start() {
  local rc=$?
  ((rc == 0)) && return 0
  trap - EXIT
  echo "start-up failed; stopping what it started: ${STARTED[*]:-nothing}" >&2
  local name
  for name in routing triage intake; do
    if [[ " ${STARTED[*]} " == *" $name "* ]]; then stop_pid "$name" || true; fi
  done
  if [[ " ${STARTED[*]} " == *" kafka "* ]]; then deploy/local/kafka.sh stop || true; fi
  exit "$rc"
}

up() {
  mkdir -p "$LOGS"
  STARTED=()
  trap undo_failed_start EXIT
  deploy/local/kafka.sh status >/dev/null || STARTED+=(kafka)
  deploy/local/kafka.sh start
  for name in "${SERVICES[@]}"; do start_service "$name"; done
  for name in "${SERVICES[@]}"; do wait_ready "$name"; done
  # Without API_KEYS the services share generated development keys (dispatch_shared.auth).
  local keys=${API_KEYS:-}
  if [[ -z $keys && -f $ROOT/.run/api-keys.env ]]; then keys=$(sed -n 's/^API_KEYS=//p' "$ROOT/.run/api-keys.env"); fi
  key_of() { tr ',' '\n' <<<"$keys" | sed -n "s/^$1://p" | head -n 1; }
  DISPATCH_API_KEY=$(key_of ops) RUN_DIR=$ROOT/.run deploy/local/seed.sh
  trap - EXIT
  cat <<TXT

The stack is up.
  intake   http://127.0.0.1:${PORT[intake]}/docs    (POST /v1/calls, GET /v1/calls/{id})
  triage   http://127.0.0.1:${PORT[triage]}/docs    (POST /v1/triage/preview, GET /v1/policy)
  routing  http://127.0.0.1:${PORT[routing]}/docs    (units, lifecycle, insights)
  console  http://127.0.0.1:${PORT[routing]}/console (paste the console key)
  metrics  /metrics on each; logs in .run/logs/
API keys (Authorization: Bearer <key>):
  cad      $(key_of cad)
  console  $(key_of console)
  unit     $(key_of unit)
  ops      $(key_of ops)
TXT
}

down() {
  for name in routing triage intake; do stop_pid "$name"; done
  deploy/local/kafka.sh stop
}

status() {
  local rc=0
  for name in "${SERVICES[@]}"; do
    if alive "$name"; then echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"))"; else echo "$name: stopped"; rc=1; fi
  done
  deploy/local/kafka.sh status || rc=1
  return $rc
}

run() {
  local follower=""
  trap 'echo; echo "stopping..."; [[ -n $follower ]] && kill "$follower" 2>/dev/null; down; exit 0' INT TERM
  up
  echo "Following the logs; Ctrl-C stops everything."
  tail -n 0 -F "$LOGS"/intake.log "$LOGS"/triage.log "$LOGS"/routing.log &
  follower=$!
  wait "$follower"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  run) run ;;
  status) status ;;
  *) echo "usage: $0 up|down|run|status" >&2; exit 2 ;;
esac
