#!/usr/bin/env bash
# A flood of refused logins against the audit trail and memory (issue 22): for DURATION
# seconds (default 60), 64 connections send wrong passwords for 4 accounts, from one client
# address and then from 64 (X-Forwarded-For through a trusted proxy), with the request limit
# off and the login throttle at its defaults (5 per account and address, 50 per address,
# 15-minute windows), while 8 more connections read /me. Prints, per run: the logins
# answered and refused, the audit rows written by action (counted after a graceful stop,
# which writes the throttle's open windows), the server's peak RSS, and /me's throughput.
# Loopback only; each run is bounded by DURATION and stops by itself.
#
# bcrypt runs at cost 4 here (BENCH_BCRYPT_COST): the attempts whose password is checked are
# bounded by the throttle (at most 20 per address: 4 accounts × 5), and at cost 12 the 1,280
# of 64 addresses would keep two cores hashing for over three minutes before the first
# refusal; the flood measured is the refused attempts that follow.
#
#   bash bench/login-flood.sh                 # DURATION=60
#   BINARY=/path/to/flowrex bash bench/login-flood.sh   # another build (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowrex-target}"
DURATION="${DURATION:-60}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

COST="${BENCH_BCRYPT_COST:-4}"
if [ -z "${BINARY:-}" ]; then
  cargo build --release --locked -p flowrex-api --bin flowrex >&2
fi
binary="${BINARY:-$CARGO_TARGET_DIR/release/flowrex}"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

printf '| addresses | logins answered | wrong password (401) | refused unchecked (429) | login_failed rows | login_throttled rows | RSS at start | peak RSS | /me req/s (p99) |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for addresses in 1 64; do
  database="$work/flood-$addresses.db"
  env -i PATH="$PATH" PORT="$port" DATABASE_URL="sqlite://$database" BCRYPT_COST="$COST" \
    JWT_SECRET_KEY=bench-secret APP_SECRET_KEY=bench-app-secret RUST_LOG=warn DEBUG=false \
    RATE_LIMIT_PER_MINUTE=0 TRUSTED_PROXIES=127.0.0.1 \
    "$binary" > "$work/server.log" 2>&1 &
  server=$!
  until curl -fsS "$base/health" >/dev/null 2>&1; do sleep 0.01; done
  for n in 0 1 2 3 reader; do
    curl -fsS -X POST "$base/api/v1/auth/register" -H 'Content-Type: application/json' \
      -d "{\"email\":\"flood$n@bench.test\",\"password\":\"Bench1234\"}" >/dev/null
  done
  access=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"floodreader@bench.test","password":"Bench1234"}' | json access_token)
  start_kib=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  : > "$work/rss"
  ( while kill -0 "$server" 2>/dev/null; do
      awk '/VmRSS/ {print $2}' "/proc/$server/status" >> "$work/rss" 2>/dev/null || true
      sleep 0.5
    done ) &
  sampler=$!
  ACCOUNTS=4 ADDRESSES=$addresses wrk -t1 -c64 -d"${DURATION}s" --timeout 30s \
    -s bench/flood.lua "$base" > "$work/flood.txt" 2>&1 &
  flood=$!
  wrk -t1 -c8 -d"${DURATION}s" --timeout 30s --latency -H "Authorization: Bearer $access" \
    "$base/api/v1/auth/me" > "$work/me.txt" 2>&1
  wait "$flood"
  peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  kill -TERM "$server"; wait "$server" 2>/dev/null || true; server=""
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  python3 - "$work/flood.txt" "$work/me.txt" "$database" "$peak_kib" "$addresses" "$start_kib" <<'PY'
import re, sqlite3, sys
flood, me, database, peak_kib, addresses, start_kib = sys.argv[1:]
text = open(flood).read()
answered = int(re.search(r"(\d+) requests in", text).group(1))
refused = int(re.search(r"status 429: (\d+)", text).group(1))
wrong = int(re.search(r"status 401: (\d+)", text).group(1))
me_text = open(me).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", me_text).group(1))
p99 = re.search(r"^\s*99%\s+([\d.]+\w+)", me_text, re.M).group(1)
rows = dict(sqlite3.connect(database).execute(
    "SELECT action, COUNT(*) FROM audit_events WHERE action IN "
    "('login_failed', 'login_throttled') GROUP BY action").fetchall())
print(f"| {addresses} | {answered:,} | {wrong:,} | {refused:,} | {rows.get('login_failed', 0):,} "
      f"| {rows.get('login_throttled', 0):,} | {int(start_kib) / 1024:.1f} MiB "
      f"| {int(peak_kib) / 1024:.1f} MiB | {rps:,.0f} ({p99}) |")
PY
done
