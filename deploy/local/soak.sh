#!/usr/bin/env bash
# `make soak`: the long fault soak (tests/fault/soak.py). Runs on PostgreSQL so that database
# restarts are among the faults: the cluster of deploy/local/postgres.sh, started here when it is
# not running (and stopped again afterwards), or the one TEST_POSTGRES_URL names. Falls back to
# SQLite, without database restarts, when no PostgreSQL can be started.
# Arguments are passed on: `deploy/local/soak.sh --rounds 50 --seed 42`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

started_pg=0
if [[ -z ${TEST_POSTGRES_URL:-} ]]; then
  if ! deploy/local/postgres.sh status >/dev/null 2>&1; then
    if deploy/local/postgres.sh start; then
      started_pg=1
    else
      echo "soak: PostgreSQL could not start; running on SQLite without database restarts" >&2
    fi
  fi
  if deploy/local/postgres.sh status >/dev/null 2>&1; then
    TEST_POSTGRES_URL=$(deploy/local/postgres.sh url dispatch_test)
    export TEST_POSTGRES_URL
  fi
fi
cleanup() { if ((started_pg)); then deploy/local/postgres.sh stop; fi; }
trap cleanup EXIT

.venv/bin/python -m tests.fault.soak "$@"
