#!/usr/bin/env bash
# Load benchmark (issue 8). Builds the release binary (with the bench-only
# /bench/token-check route), starts it on a fresh SQLite database (or on BENCH_DATABASE_URL),
# and measures with wrk at 64 connections: GET /health, GET /api/v1/auth/me, the token-only
# ceiling of /me, POST /login, POST /refresh, POST /register; then /health while 32
# connections flood login; start-up time to the first /health on an existing database; the
# server's peak RSS. Loopback only; every run is bounded (DURATION seconds, default 10).
#
#   bash bench/load.sh                      # SQLite
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench bash bench/load.sh
#
# Options (environment): DURATION (seconds per run); PROFILE=1 records the server with
# `perf` during the /me run and prints where its CPU went; REFERENCE=1 also builds
# bench/reference (a minimal actix-web + sea-orm /me) and measures it on the same database
# and machine, as a calibration of the /me figures. FLOWREX_BINARY=path measures that
# binary (built with `--features bench-routes`) instead of building this tree's, so that
# two versions can be compared in one session (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowrex-target}"
DURATION="${DURATION:-10}"
COST="${BENCH_BCRYPT_COST:-12}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

if [ -n "${FLOWREX_BINARY:-}" ]; then
  binary="$FLOWREX_BINARY"
else
  cargo build --release --locked -p flowrex-api --bin flowrex --features bench-routes >&2
  binary="$CARGO_TARGET_DIR/release/flowrex"
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
database="${BENCH_DATABASE_URL:-sqlite://$work/bench.db}"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start() {
  env -i PATH="$PATH" PORT="$port" DATABASE_URL="$database" BCRYPT_COST="$COST" \
    JWT_SECRET_KEY=bench-secret APP_SECRET_KEY=bench-app-secret RUST_LOG=warn DEBUG=false \
    RATE_LIMIT_PER_MINUTE=0 LOGIN_MAX_FAILURES_PER_ACCOUNT=0 LOGIN_MAX_FAILURES_PER_IP=0 \
    "$binary" > "$work/server.log" 2>&1 &
  server=$!
  local started; started=$(date +%s%N)
  until curl -fsS "$base/health" >/dev/null 2>&1; do sleep 0.002; done
  started_ms=$(( ($(date +%s%N) - started) / 1000000 ))
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

start                         # fresh database: migrations run
first_start=$started_ms
stop
start                         # existing database: what a restart costs
startup_ms=$started_ms

curl -fsS -X POST "$base/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"bench@bench.test","password":"Bench1234"}' >/dev/null
login_body='{"email":"bench@bench.test","password":"Bench1234"}'
access=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' -d "$login_body" | json access_token)
# One refresh token per connection: refresh tokens are single-use.
seq 64 | xargs -P 4 -I{} curl -fsS -X POST "$base/api/v1/auth/login" \
  -H 'Content-Type: application/json' -d "$login_body" | python3 -c '
import json, sys
for line in sys.stdin.read().replace("}{", "}\n{").splitlines():
    print(json.loads(line)["refresh_token"])' > "$work/refresh_tokens"

verify_ms=$(python3 - "$CARGO_TARGET_DIR" "$COST" <<'PY'
import json, sys, pathlib
path = pathlib.Path(sys.argv[1]) / "criterion" / "bcrypt" / f"verify (cost {sys.argv[2]})" / "new" / "estimates.json"
print(json.load(open(path))["mean"]["point_estimate"] / 1e6 if path.exists() else "")
PY
)
cores=$(nproc)

# wrk's summary as: rps p50_ms p99_ms non2xx errors
measure() { # connections duration wrk-args...
  local connections=$1 duration=$2; shift 2
  wrk -t2 -c"$connections" -d"${duration}s" --timeout 30s --latency "$@" > "$work/wrk.txt" 2>&1 || true
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print(f"{float(rps.group(1)) if rps else 0:.1f} {ms('50'):.2f} {ms('99'):.2f} "
      f"{int(non2xx.group(1)) if non2xx else 0} {sum(map(int, errors.groups())) if errors else 0}")
PY
}
row() { # name limit-rps result...
  local name=$1 limit=$2 rps=$3 p50=$4 p99=$5 non2xx=$6 errors=$7
  local ratio="-"
  [ "$limit" != "-" ] && ratio=$(python3 -c "print(f'{$rps / $limit:.0%}')")
  printf '%-34s %10s %9s %9s %8s %7s %12s %7s\n' "$name" "$rps" "$p50" "$p99" "$non2xx" "$errors" "$limit" "$ratio"
}

# Logins abandoned by wrk at the end of a run still finish hashing on the server (the
# handler is not cancelled when the client goes away): wait until a login is quick again,
# so that the next run does not pay for them.
drain() {
  for _ in $(seq 1 120); do
    local started; started=$(date +%s%N)
    curl -fsS -o /dev/null -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' -d "$login_body" || true
    [ $(( ($(date +%s%N) - started) / 1000000 )) -lt 1500 ] && return
  done
}

rss_before=$(grep VmHWM /proc/$server/status | awk '{print $2}')
health=$(measure 64 "$DURATION" "$base/health")
ceiling=$(measure 64 "$DURATION" -H "Authorization: Bearer $access" "$base/bench/token-check")
# The server's RSS, sampled every 50 ms during the /me run (its largest sample is "peak RSS
# during /me"; VmHWM would also count what earlier runs left behind).
( peak=0; while kill -0 "$server" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && { peak=$rss; echo "$peak" > "$work/rss_me"; }
    sleep 0.05
  done ) &
sampler=$!
me=$(measure 64 "$DURATION" -H "Authorization: Bearer $access" "$base/api/v1/auth/me")
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
rss_me=$(cat "$work/rss_me")
if [ -n "${PROFILE:-}" ]; then # a second /me run under perf (recording slows the server down)
  perf record -F 999 -e cpu-clock --call-graph dwarf,16384 -p "$server" -o "$work/perf.data" \
    -- sleep "$DURATION" > /dev/null 2>&1 &
  profiler=$!
  measure 64 "$DURATION" -H "Authorization: Bearer $access" "$base/api/v1/auth/me" > /dev/null
  wait "$profiler" || true
fi
login=$(BODY="$login_body" measure 64 "$DURATION" -s bench/post.lua "$base/api/v1/auth/login")
drain
refresh=$(THREADS=2 TOKENS_FILE="$work/refresh_tokens" measure 64 "$DURATION" -s bench/refresh.lua "$base/api/v1/auth/refresh")
register=$(measure 64 "$DURATION" -s bench/register.lua "$base/api/v1/auth/register")
drain
BODY="$login_body" wrk -t1 -c32 -d"$((DURATION + 2))s" --timeout 30s -s bench/post.lua "$base/api/v1/auth/login" > /dev/null 2>&1 &
flood=$!
sleep 1
health_flood=$(measure 8 "$DURATION" "$base/health")
wait "$flood" || true
rss_peak=$(grep VmHWM /proc/$server/status | awk '{print $2}')

login_limit="-"
[ -n "$verify_ms" ] && login_limit=$(python3 -c "print(f'{$cores / ($verify_ms / 1000):.2f}')")
me_ceiling=$(echo "$ceiling" | awk '{print $1}')

echo
echo "flowrex load benchmark — $(date -u +%Y-%m-%d), $cores cores, bcrypt cost $COST, ${DURATION}s per run, wrk -t2"
echo "database: ${BENCH_DATABASE_URL:+${BENCH_DATABASE_URL%%://*}}${BENCH_DATABASE_URL:-sqlite (file)}"
printf '%-34s %10s %9s %9s %8s %7s %12s %7s\n' "run" "req/s" "p50 ms" "p99 ms" "non-2xx" "errors" "limit req/s" "ratio"
row "GET /health (64 conn)" - $health
row "GET /bench/token-check (ceiling)" - $ceiling
row "GET /api/v1/auth/me (64 conn)" "$me_ceiling" $me
row "POST /api/v1/auth/login (64 conn)" "$login_limit" $login
row "POST /api/v1/auth/refresh (64 conn)" - $refresh
row "POST /api/v1/auth/register (64)" "$login_limit" $register
row "GET /health during login flood (8)" - $health_flood
echo "bcrypt verify: ${verify_ms:-unknown (run: cargo bench -p flowrex-infrastructure --bench hot_paths)} ms"
echo "start-up to first /health: ${first_start} ms on a new database, ${startup_ms} ms on an existing one"
echo "RSS: $((rss_before / 1024)) MiB after start, peak $((rss_me / 1024)) MiB during the /me run, peak $((rss_peak / 1024)) MiB over all runs"

if [ -n "${PROFILE:-}" ]; then
  echo
  echo "where the server's CPU went during a /me run (perf, cpu-clock samples; % of all samples):"
  perf report -i "$work/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null > "$work/threads.txt" || true
  perf report -i "$work/perf.data" --children --sort sym --stdio -g none 2>/dev/null > "$work/symbols.txt" || true
  python3 - "$work/threads.txt" "$work/symbols.txt" <<'PY'
import re, sys
threads, symbols = (open(path).read() for path in sys.argv[1:])
for line in threads.splitlines():
    m = re.match(r"\s*([\d.]+)%\s+(.*)", line)
    if m: print(f"  {m.group(1):>6}%  thread {m.group(2)}")
rows = [  # (label, symbol pattern); inclusive time
    ("handing each query to a SQLite thread (flume send, futex wake)", r"flume::Shared<T>::send$"),
    ("SQLite threads parking and waking", r"std::thread::functions::park$"),
    ("SQLite executing the statement (sqlite3_step)", r"\] sqlite3_step$"),
    ("sqlx returning the connection (a ping round trip)", r"return_to_pool::\{\{closure\}\}$"),
    ("writing responses to sockets (send)", r"__libc_send"),
    ("JWT decode and verify", r"jsonwebtoken::decoding::decode$"),
    ("sea-query building the SQL", r"SelectStatement as sea_orm::database::statement::StatementBuilder>::build$"),
    ("decoding the row into a model", r"users::Model as sea_orm::entity::model::FromQueryResult>::from_query_result_nullable$"),
    ("request id (observe middleware)", r"observe::request_id$"),
]
for label, pattern in rows:
    found = [float(m.group(1)) for line in symbols.splitlines()
             if re.search(pattern, line) and (m := re.match(r"\s*([\d.]+)%", line))]
    print(f"  {max(found, default=0.0):>6.2f}%  {label}")
PY
fi

if [ -n "${REFERENCE:-}" ]; then
  cargo build --release --locked --manifest-path bench/reference/Cargo.toml >&2
  stop
  env -i PATH="$PATH" PORT="$port" DATABASE_URL="$database" JWT_SECRET_KEY=bench-secret \
    "$CARGO_TARGET_DIR/release/flowrex-bench-reference" > "$work/reference.log" 2>&1 &
  server=$!
  until curl -fsS "$base/health" >/dev/null 2>&1; do sleep 0.01; done
  reference=$(measure 64 "$DURATION" -H "Authorization: Bearer $access" "$base/api/v1/auth/me")
  stop
  echo
  row "reference: minimal sea-orm /me" - $reference
  echo "(bench/reference: HS256 check + one lookup by id, no sessions, middleware or metrics)"
fi
