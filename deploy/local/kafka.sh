#!/usr/bin/env bash
# A real Apache Kafka 3.9 broker (KRaft, one node acting as broker and controller) for
# development and tests, without Docker: Maven fetches the broker's jars once, and the JVM runs
# kafka.Kafka from them.
#   kafka.sh fetch    copy the broker's jars into the cache (downloads on the first run only)
#   kafka.sh start    start in the background unless already running; wait until it serves
#   kafka.sh stop     SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s; idempotent
#   kafka.sh status   exit 0 and print the pid if running, else exit 1
# Settings (environment):
#   RUN_DIR (.run)                 state: kafka/ (config, data), kafka.pid, logs/kafka.log
#   KAFKA_LIBS (.cache/kafka-libs) jar cache, shared by every RUN_DIR
#   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093)   both bound to 127.0.0.1 only
#   KAFKA_START_TIMEOUT (90), KAFKA_STOP_TIMEOUT (30) seconds
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx512m)
#   KAFKA_DATA_RESET=1             wipe the topics (the data dir) before starting
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Absolute paths: the pid check below matches the broker's command line, which must not depend
# on the directory the script was called from.
RUN_DIR=$(realpath -m "${RUN_DIR:-$ROOT/.run}")
LIBS=$(realpath -m "${KAFKA_LIBS:-$ROOT/.cache/kafka-libs}")
POM=$ROOT/deploy/local/kafka/pom.xml
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
read -r -a HEAP <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
STATE=$RUN_DIR/kafka
CONFIG=$STATE/server.properties
PID_FILE=$RUN_DIR/kafka.pid
LOG=$RUN_DIR/logs/kafka.log

JAVA=(java "${HEAP[@]}" -Djava.awt.headless=true "-Dlog4j.configuration=file:$STATE/log4j.properties"
  -cp "$LIBS/*")

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM"; }

# --- fetch -------------------------------------------------------------------------------------

fetch() {
  # The marker records the Kafka version and the pom's hash: editing the pom refetches, and an
  # unchanged pom never runs Maven again.
  local want have=""
  want="kafka $(kafka_version) pom $(sha1sum <"$POM" | cut -c1-12)"
  [[ -f $LIBS/.fetched ]] && have=$(<"$LIBS/.fetched")
  [[ $have == "$want" ]] && return 0
  # One fetch at a time per cache (two test sessions may start at once); the winner's jars
  # serve the other.
  mkdir -p "$(dirname "$LIBS")"
  exec 7>"$LIBS.lock"
  flock 7
  [[ -f $LIBS/.fetched ]] && have=$(<"$LIBS/.fetched")
  [[ $have == "$want" ]] && return 0
  if ! command -v mvn >/dev/null; then
    echo "kafka: Maven (mvn) is needed to fetch the broker's jars: apt-get install -y maven" >&2
    return 1
  fi
  echo "kafka: fetching jars for Kafka $(kafka_version) (first run only)"
  # Fill a staging directory and swap it in whole, so an interrupted fetch never leaves a
  # half-filled cache and two versions' jars never share one classpath.
  local staging=$LIBS.partial.$$
  rm -rf "$staging"
  # Maven's output is kept for failures only (even -q -B prints stray ANSI resets).
  local mvn_log
  mvn_log=$(mktemp)
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$staging" >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    rm -rf "$staging" "$mvn_log"
    echo "kafka: Maven could not fetch the broker's jars" >&2
    return 1
  fi
  rm -f "$mvn_log"
  echo "$want" >"$staging/.fetched"
  rm -rf "$LIBS.old"
  if [[ -d $LIBS ]]; then mv "$LIBS" "$LIBS.old"; fi
  mv "$staging" "$LIBS"
  rm -rf "$LIBS.old"
  exec 7>&-
}

# --- process helpers ---------------------------------------------------------------------------

# True if PID is alive and is this RUN_DIR's broker: a stale pid file whose pid the kernel has
# since given to another process (or a zombie, whose command line is empty) does not count.
is_broker() {
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -r /proc/$pid/cmdline ]] || return 0 # no /proc: trust kill -0
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$CONFIG"
}

# Alive and not a zombie (exited children can linger here until init reaps them). Unlike
# is_broker this holds from the fork on, before the child has exec'd the JVM.
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z ]]
}

# Prints the broker's pid if the pid file names a live broker.
broker_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE")
  is_broker "$pid" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_log() {
  echo "kafka: $1; last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2 || true
}

# --- start -------------------------------------------------------------------------------------

write_config() {
  mkdir -p "$STATE" "$RUN_DIR/logs"
  cat >"$CONFIG" <<PROPS
# Written by deploy/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE/data
num.partitions=3
auto.create.topics.enable=false
# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Consumer groups form at once instead of waiting 3 s for more members (tests join often).
group.initial.rebalance.delay.ms=0
PROPS
  # INFO for the broker's life cycle (start, ready, shut down); the config dump, per-topic,
  # per-partition and per-consumer-group chatter (thousands of lines in a test run that makes
  # topics per test) only from WARN up.
  cat >"$STATE/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=WARN
log4j.logger.org.apache.zookeeper=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.cluster=WARN
log4j.logger.kafka.coordinator=WARN
log4j.logger.kafka.log=WARN
log4j.logger.kafka.network=WARN
log4j.logger.kafka.utils=WARN
log4j.logger.kafka.server.KafkaConfig=WARN
log4j.logger.kafka.server.metadata=WARN
log4j.logger.kafka.server.ReplicaFetcherManager=WARN
log4j.logger.kafka.server.ReplicaAlterLogDirsManager=WARN
log4j.logger.kafka.server.NodeToControllerRequestThread=WARN
log4j.logger.kafka.server.DelayedOperationPurgatory$ExpiredOperationReaper=WARN
log4j.logger.kafka.server.ClientQuotaManager$ThrottledChannelReaper=WARN
PROPS
}

# A cluster id in Kafka's own form (16 random bytes, URL-safe base64 without padding), made here
# to spare a JVM start. One starting with '-' would be read as an option, so draw again.
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
    [[ $id == -* ]] || break
  done
  echo "$id"
}

format_storage() {
  [[ -f $STATE/data/meta.properties ]] && return 0
  # Kept beside the data, so a KAFKA_DATA_RESET reformats with the same cluster id.
  [[ -s $STATE/cluster.id ]] || new_cluster_id >"$STATE/cluster.id"
  if ! "${JAVA[@]}" kafka.tools.StorageTool format -t "$(<"$STATE/cluster.id")" -c "$CONFIG" -g \
    >>"$LOG" 2>&1; then
    show_log "could not format the storage"
    return 1
  fi
}

# Serialises start and stop on one RUN_DIR, so two callers never launch two brokers.
lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/kafka.lock"
  flock 8
}

start() {
  local pid port
  lock_run_dir
  if pid=$(broker_pid); then
    echo "kafka: already running (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"
  fetch
  # Another broker (another checkout, another RUN_DIR) on our ports would make ours die after
  # a JVM start; say so at once instead.
  for port in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$port"; then
      echo "kafka: 127.0.0.1:$port is already in use (another broker? set KAFKA_PORT and" \
        "KAFKA_CONTROLLER_PORT)" >&2
      return 1
    fi
  done
  if [[ ${KAFKA_DATA_RESET:-0} == 1 ]]; then rm -rf "$STATE/data"; fi
  write_config
  # Keep the previous run's log for post-mortems; the wait below reads only this run's.
  if [[ -s $LOG ]]; then mv -f "$LOG" "$LOG.1"; fi
  : >"$LOG"
  format_storage
  # setsid + nohup: the broker outlives the shell (or test process) that started it and takes
  # no terminal signals. In a script without job control setsid execs directly, so $! is the
  # JVM's pid.
  # 7>&- 8>&-: the broker must not inherit (and so hold for its lifetime) the locks.
  setsid nohup "${JAVA[@]}" kafka.Kafka "$CONFIG" >>"$LOG" 2>&1 </dev/null 7>&- 8>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid"
  echo "kafka: started Kafka $(kafka_version) (pid $pid, 127.0.0.1:$PORT, log $LOG)"
}

# Ready = the broker logged that it started AND its listener takes connections.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  until grep -q "Kafka Server started" "$LOG" && port_open "$PORT"; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      show_log "the broker exited during start-up"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      # Don't leave a half-started broker behind a pid file: the next start would trust it.
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PID_FILE"
      show_log "not ready after ${START_TIMEOUT}s (killed it)"
      return 1
    fi
    sleep 0.3
  done
}

# --- stop / status -----------------------------------------------------------------------------

stop() {
  local pid
  lock_run_dir
  if ! pid=$(broker_pid); then
    rm -f "$PID_FILE"
    echo "kafka: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while is_broker "$pid" && ((SECONDS < deadline)); do sleep 0.3; done
  if is_broker "$pid"; then
    echo "kafka: still running after ${STOP_TIMEOUT}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while is_broker "$pid"; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  echo "kafka: stopped"
}

status() {
  local pid
  if pid=$(broker_pid); then
    echo "kafka: running (pid $pid)"
  else
    echo "kafka: not running"
    return 1
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 fetch|start|stop|status" >&2
    exit 2
    ;;
esac
