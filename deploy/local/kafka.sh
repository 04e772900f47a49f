#!/usr/bin/env bash
# A real Apache Kafka 3.9 broker (KRaft, single node) on this machine, no Docker needed.
#   kafka.sh fetch    copy the broker's jars into the cache (first run only; Maven fetches them)
#   kafka.sh start    start in the background unless running; wait until it serves
#   kafka.sh stop     stop it (SIGTERM, then SIGKILL after 30 s)
#   kafka.sh status   exit 0 if running
# Settings: RUN_DIR (.run), KAFKA_LIBS (.cache/kafka-libs), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), KAFKA_START_TIMEOUT (90 s), KAFKA_DATA_RESET=1 wipes the data.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN_DIR=${RUN_DIR:-$ROOT/.run}
LIBS=${KAFKA_LIBS:-$ROOT/.cache/kafka-libs}
POM=$ROOT/deploy/local/kafka/pom.xml
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
STATE=$RUN_DIR/kafka
PID_FILE=$RUN_DIR/kafka.pid
LOG=$RUN_DIR/logs/kafka.log
TIMEOUT=${KAFKA_START_TIMEOUT:-90}

running() { [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

fetch() {
  # The marker names the pom's content, so a version change in the pom refetches.
  local marker="$LIBS/.complete-$(sha1sum "$POM" | cut -c1-12)"
  [[ -f $marker ]] && return
  echo "kafka: fetching the broker's jars (first run only)"
  rm -rf "$LIBS" && mkdir -p "$LIBS"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS"
  touch "$marker"
}

JAVA=(java -Xms256m -Xmx768m "-Dlog4j.configuration=file:$STATE/log4j.properties" -cp "$LIBS/*")

write_config() {
  mkdir -p "$STATE" "$RUN_DIR/logs"
  cat >"$STATE/server.properties" <<PROPS
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
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  # Quiet by default: the broker's INFO chatter drowns what an operator needs.
  cat >"$STATE/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka$=INFO
PROPS
}

format_storage() {
  [[ -f $STATE/data/meta.properties ]] && return
  local cluster_id
  cluster_id=$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  "${JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" -g >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
  if running; then
    echo "kafka: already running (pid $(cat "$PID_FILE"), port $PORT)"
    return
  fi
  fetch
  [[ ${KAFKA_DATA_RESET:-0} == 1 ]] && rm -rf "$STATE/data"
  write_config
  format_storage
  : >"$LOG"
  setsid nohup "${JAVA[@]}" kafka.Kafka "$STATE/server.properties" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + TIMEOUT))
  until grep -q "Kafka Server started" "$LOG" && port_open; do
    if ! running; then
      echo "kafka: exited during start-up; last log lines:" >&2
      tail -n 30 "$LOG" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "kafka: not ready after ${TIMEOUT}s; last log lines:" >&2
      tail -n 30 "$LOG" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "kafka: started (pid $(cat "$PID_FILE"), 127.0.0.1:$PORT, log ${LOG#"$ROOT"/})"
}

stop() {
  if ! running; then
    rm -f "$PID_FILE"
    echo "kafka: not running"
    return
  fi
  local pid
  pid=$(cat "$PID_FILE")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka: did not stop in 30 s; killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  echo "kafka: stopped"
}

status() {
  if running; then echo "kafka: running (pid $(cat "$PID_FILE"), port $PORT)"; else echo "kafka: stopped"; return 1; fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
