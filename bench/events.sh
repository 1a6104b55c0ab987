#!/usr/bin/env bash
# Account events benchmark (issue 25): registrations per second (bcrypt cost 12) and GET /me,
# with both sinks off and on — the NATS JetStream stream (BENCH_NATS_URL, default the
# machine's nats://127.0.0.1:4222, a stream of its own) and a webhook endpoint (a Python
# receiver on loopback, bench/webhook_sink.py) — in alternating rounds on fresh SQLite
# databases (or BENCH_DATABASE_URL); and the delivery lag during the registration burst:
# webhooks from the receiver's clock (commit to arrival), the stream from the server's
# `flowrex_event_delivery_lag_seconds` histogram. Loopback only; each run is bounded
# (DURATION seconds, default 10; ROUNDS, default 2).
#
#   bash bench/events.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowrex-target}"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-2}"
NATS="${BENCH_NATS_URL:-nats://127.0.0.1:4222}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p flowrex-api --bin flowrex >&2
binary="$CARGO_TARGET_DIR/release/flowrex"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
sink_port=$(free_port)
base="http://127.0.0.1:$port"
server="" sink=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -n "$sink" ] && kill "$sink" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

environment() { # database, extra variables...
  local database=$1; shift
  echo PATH="$PATH" PORT="$port" DATABASE_URL="$database" BCRYPT_COST=12 \
    JWT_SECRET_KEY=bench-secret APP_SECRET_KEY=bench-app-secret RUST_LOG=warn DEBUG=false \
    RATE_LIMIT_PER_MINUTE=0 LOGIN_MAX_FAILURES_PER_ACCOUNT=0 LOGIN_MAX_FAILURES_PER_IP=0 \
    WEBHOOK_ALLOW_PRIVATE_NETWORKS=true "$@"
}

start() { # mode (off|on), round
  local mode=$1 round=$2 database
  database="${BENCH_DATABASE_URL:-sqlite://$work/bench-$mode-$round.db}"
  local extra=()
  if [ "$mode" = on ]; then
    extra=(EVENTS_NATS_URL="$NATS" EVENTS_NATS_STREAM="FLOWREX_BENCH_$$_$round"
      EVENTS_NATS_SUBJECT_PREFIX="flowrex_bench_$$_$round.events")
  fi
  # shellcheck disable=SC2046
  env -i $(environment "$database" "${extra[@]}") "$binary" > "$work/server.log" 2>&1 &
  server=$!
  until curl -fsS "$base/health" >/dev/null 2>&1; do sleep 0.02; done
  # shellcheck disable=SC2046
  printf 'Bench1234\n' | env -i $(environment "$database") "$binary" user create \
    --email root@bench.test --superuser >/dev/null 2>&1
  access=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"root@bench.test","password":"Bench1234"}' | json access_token)
  if [ "$mode" = on ]; then
    curl -fsS -X POST "$base/api/v1/admin/webhooks" -H "Authorization: Bearer $access" \
      -H 'Content-Type: application/json' \
      -d "{\"url\":\"http://127.0.0.1:$sink_port/hook\",\"events\":[\"*\"]}" >/dev/null
  fi
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

measure() { # connections duration wrk-args... → rps p50_ms p99_ms
  wrk -t2 -c"$1" -d"$2s" --timeout 30s --latency "${@:3}" > "$work/wrk.txt" 2>&1 || true
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
print(f"{float(rps.group(1)) if rps else 0:.1f} {ms('50'):.2f} {ms('99'):.2f}")
PY
}

python3 bench/webhook_sink.py "$sink_port" "$work/lags" &
sink=$!
printf '%-6s %-5s %14s %12s %12s %12s\n' round sinks "register/s" "p99 ms" "/me req/s" "p99 ms"
for round in $(seq 1 "$ROUNDS"); do
  # Alternating which goes first, so that neither always runs on a warmer machine.
  modes="off on"; [ $((round % 2)) -eq 0 ] && modes="on off"
  for mode in $modes; do
    start "$mode" "$round"
    : > "$work/lags"
    read -r reg_rps _ reg_p99 < <(measure 64 "$DURATION" -s bench/register.lua "$base/api/v1/auth/register")
    # Registrations abandoned by wrk still finish hashing (64 at cost 12 on 2 cores: about
    # 8 s) and announce their events: let them, so that /me is measured on a quiet server.
    sleep 12
    read -r me_rps _ me_p99 < <(measure 64 "$DURATION" -H "Authorization: Bearer $access" "$base/api/v1/auth/me")
    printf '%-6s %-5s %14s %12s %12s %12s\n' "$round" "$mode" "$reg_rps" "$reg_p99" "$me_rps" "$me_p99"
    if [ "$mode" = on ]; then
      sleep 2
      curl -fsS "$base/metrics" > "$work/metrics-$round"
      python3 - "$work/lags" "$work/metrics-$round" <<'PY'
import re, statistics, sys
lags = sorted(float(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("user.created"))
def q(p): return lags[min(len(lags) - 1, int(p * len(lags)))] if lags else float("nan")
print(f"       webhook lag over {len(lags)} events: p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {lags[-1] if lags else 0:.1f} ms")
text = open(sys.argv[2]).read()
buckets = [(float(le), float(n)) for le, n in re.findall(r'flowrex_event_delivery_lag_seconds_bucket\{le="([^"+]+)",sink="nats"\} ([\d.]+)', text)]
buckets += [(float(le), float(n)) for le, n in re.findall(r'flowrex_event_delivery_lag_seconds_bucket\{sink="nats",le="([^"+]+)"\} ([\d.]+)', text)]
buckets.sort()
total = max((n for _, n in buckets), default=0)
def bound(p): return next((le for le, n in buckets if n >= p * total), float("inf"))
print(f"       stream lag over {total:.0f} events: p50 <= {bound(0.5) * 1000:.1f} ms, p99 <= {bound(0.99) * 1000:.1f} ms (histogram buckets)")
PY
    fi
    stop
  done
done
