#!/usr/bin/env bash
# Breached-password check benchmark (issue 26): registrations per second at bcrypt cost 12
# with PASSWORD_BREACH_CHECK off, range-files (bench/breach_ranges.py's folder) and
# range-api (the same folder behind a static range server on loopback), every registration
# with a password of its own (bench/register_distinct.lua), so that every check reads a
# range (no cache hit). Alternating rounds on fresh SQLite databases. Loopback only; each
# run is bounded (DURATION seconds, default 10; ROUNDS, default 3).
#
#   bash bench/breach.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowrex-target}"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p flowrex-api --bin flowrex >&2
binary="$CARGO_TARGET_DIR/release/flowrex"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
range_port=$(free_port)
base="http://127.0.0.1:$port"
server="" ranges=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -n "$ranges" ] && kill "$ranges" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT

python3 bench/breach_ranges.py "$work/ranges" >&2
# The range API: GET /range/PREFIX answers PREFIX.txt, as the public API does (the tests'
# range server).
python3 crates/flowrex-infrastructure/src/test_support/range_server.py "$range_port" \
  "$work/ranges" 0 2>/dev/null &
ranges=$!
# (Its stderr is dropped: a broken pipe there is a request a stopped server left.)
until curl -s -o /dev/null "http://127.0.0.1:$range_port/range/00000"; do sleep 0.05; done

start() { # mode (off|files|api), round
  local mode=$1 round=$2 check
  case "$mode" in
    off) check=(PASSWORD_BREACH_CHECK=off) ;;
    files) check=(PASSWORD_BREACH_CHECK=range-files PASSWORD_BREACH_RANGE_DIR="$work/ranges") ;;
    api) check=(PASSWORD_BREACH_CHECK=range-api PASSWORD_BREACH_RANGE_URL="http://127.0.0.1:$range_port/range") ;;
  esac
  env -i PATH="$PATH" PORT="$port" DATABASE_URL="sqlite://$work/bench-$mode-$round.db" \
    BCRYPT_COST=12 JWT_SECRET_KEY=bench-secret APP_SECRET_KEY=bench-app-secret RUST_LOG=warn \
    DEBUG=false RATE_LIMIT_PER_MINUTE=0 "${check[@]}" "$binary" > "$work/server.log" 2>&1 &
  server=$!
  until curl -fsS "$base/health" >/dev/null 2>&1; do sleep 0.02; done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

measure() { # → rps p99_ms
  wrk -t2 -c64 -d"${DURATION}s" --timeout 30s --latency -s bench/register_distinct.lua \
    "$base/api/v1/auth/register" > "$work/wrk.txt" 2>&1 || true
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(f"{float(rps.group(1)) if rps else 0:.2f} {p99:.0f} {non2xx.group(1) if non2xx else 0}")
PY
}

printf '%-6s %-6s %12s %10s %8s %s\n' round check "register/s" "p99 ms" "non-2xx" "checks (clean/found/error)"
declare -A total=([off]=0 [files]=0 [api]=0)
for round in $(seq 1 "$ROUNDS"); do
  # Rotating the order, so that no mode always runs first on a cooler machine.
  case $((round % 3)) in
    1) modes="off files api" ;; 2) modes="files api off" ;; 0) modes="api off files" ;;
  esac
  for mode in $modes; do
    start "$mode" "$round"
    read -r rps p99 bad < <(measure)
    # Registrations wrk abandoned still finish hashing: let them, then read the checks.
    sleep 10
    checks=$(curl -fsS "$base/metrics" | python3 -c '
import re, sys
text = sys.stdin.read()
n = {o: sum(float(v) for v in re.findall(r"flowrex_password_breach_checks_total\{[^}]*outcome=\"%s\"[^}]*\} ([\d.]+)" % o, text)) for o in ("clean", "found", "error")}
print("%d/%d/%d" % (n["clean"], n["found"], n["error"]))')
    printf '%-6s %-6s %12s %10s %8s %s\n' "$round" "$mode" "$rps" "$p99" "$bad" "$checks"
    total[$mode]=$(python3 -c "print(${total[$mode]} + $rps)")
    stop
  done
done
python3 - "${total[off]}" "${total[files]}" "${total[api]}" <<'PY'
import sys
off, files, api = (float(a) for a in sys.argv[1:4])
print(f"mean ratio to off: range-files {files / off:.3f}, range-api {api / off:.3f} (target >= 0.90)")
PY
