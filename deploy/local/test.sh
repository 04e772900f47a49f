#!/usr/bin/env bash
# `make test`: start the Kafka broker if it is not running, run every test tier, and stop the
# broker again if this script started it. PostgreSQL runs too when TEST_POSTGRES_URL is set
# (.ci/run starts a cluster and sets it). Nothing is installed here: `make deps` installs the system
# tools (Chromium, promtool, kubeconform, ...) once; without them their tests skip, or fail under CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

started_kafka=0
if ! deploy/local/kafka.sh status >/dev/null 2>&1; then
  deploy/local/kafka.sh start
  started_kafka=1
fi
cleanup() { if ((started_kafka)); then deploy/local/kafka.sh stop; fi; }
trap cleanup EXIT

export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}
.venv/bin/pytest --cov --cov-report=term:skip-covered "$@"
