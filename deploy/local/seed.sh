#!/usr/bin/env bash
# Seed routing's unit roster with the demo units of deploy/local/units.json, only when it is empty.
# `stack.sh up` (so `make up` and `make run`) calls this once the services are ready.
# Settings: ROUTING_PORT (8003), UNITS_FILE (deploy/local/units.json), DISPATCH_API_KEY (a key
# with the ops role; otherwise the ops key of API_KEYS, or of the local keys in .run/api-keys.env).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN_DIR=${RUN_DIR:-$ROOT/.run}
URL="http://127.0.0.1:${ROUTING_PORT:-8003}"
UNITS_FILE=${UNITS_FILE:-$ROOT/deploy/local/units.json}

ops_key() {
  # The first ops:<key> entry of a role:key,role:key list.
  tr ',' '\n' <<<"$1" | sed -n 's/^[[:space:]]*ops:\(.*\)$/\1/p' | head -n 1
}

key=${DISPATCH_API_KEY:-}
if [[ -z $key && -n ${API_KEYS:-} ]]; then key=$(ops_key "$API_KEYS"); fi
if [[ -z $key && -f $RUN_DIR/api-keys.env ]]; then
  key=$(ops_key "$(sed -n 's/^API_KEYS=//p' "$RUN_DIR/api-keys.env")")
fi

headers=(-H "Accept: application/json")
if [[ -n $key ]]; then headers+=(-H "Authorization: Bearer $key"); fi

if ! roster=$(curl -fsS "${headers[@]}" "$URL/v1/units"); then
  echo "seed: could not read the roster at $URL/v1/units (is routing up, and the key an ops key?)" >&2
  exit 1
fi
if [[ $roster != *'"total":0'* ]]; then
  echo "seed: the roster already has units; left as it is"
  exit 0
fi
curl -fsS -o /dev/null "${headers[@]}" -H "Content-Type: application/json" \
  -X POST --data-binary @"$UNITS_FILE" "$URL/v1/units"
echo "seed: registered $(grep -c '"unit_id"' "$UNITS_FILE") demo units from ${UNITS_FILE#"$ROOT"/}"
