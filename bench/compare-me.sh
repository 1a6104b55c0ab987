#!/usr/bin/env bash
# GET /api/v1/auth/me throughput of two release binaries, interleaved: 3 runs each,
# wrk -t2 -c64 -d8s, loopback, a fresh SQLite database per run. Bounded (about a minute).
#
#   bash bench/compare-me.sh OLD_BINARY NEW_BINARY
set -euo pipefail
old=${1:?usage: bench/compare-me.sh OLD_BINARY NEW_BINARY}
new=${2:?usage: bench/compare-me.sh OLD_BINARY NEW_BINARY}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
run() {
  local binary=$1 work; work=$(mktemp -d)
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env -i PATH="$PATH" PORT="$port" DATABASE_URL="sqlite://$work/b.db" BCRYPT_COST=4 \
    JWT_SECRET_KEY=bench-secret APP_SECRET_KEY=bench-app-secret RUST_LOG=warn DEBUG=false \
    RATE_LIMIT_PER_MINUTE=0 LOGIN_MAX_FAILURES_PER_ACCOUNT=0 LOGIN_MAX_FAILURES_PER_IP=0 \
    "$binary" > "$work/log" 2>&1 &
  local pid=$!
  until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.01; done
  curl -fsS -X POST "http://127.0.0.1:$port/api/v1/auth/register" -H 'Content-Type: application/json' -d '{"email":"b@bench.test","password":"Bench1234"}' >/dev/null
  local token; token=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/auth/login" -H 'Content-Type: application/json' -d '{"email":"b@bench.test","password":"Bench1234"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  wrk -t2 -c64 -d8s --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/auth/me" | grep -E "Requests/sec|99%|Non-2xx|Socket errors" | tr '\n' ' '
  echo
  kill $pid; wait $pid 2>/dev/null || true; rm -rf "$work"
}
for i in 1 2 3; do
  echo -n "old $i: "; run "$old"
  echo -n "new $i: "; run "$new"
done
