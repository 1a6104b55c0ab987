#!/usr/bin/env bash
# Sign-in with an outside provider (issue 24): the callback's own time, without the
# provider's. Starts the certified oidc-provider (tests/oidc-provider) and the release
# binary on loopback, runs COUNT sign-ins through the provider's pages one after another
# (bench/federation.py), and prints p50/p99 of the callback's own time (its total minus the
# provider's answer, from its Server-Timing header), of the provider's, and of the client's.
#
#   bash bench/federation.sh                  # COUNT=300
#   FLOWREX_BINARY=path COUNT=500 bash bench/federation.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowrex-target}"
COUNT="${COUNT:-300}"
if [ -n "${FLOWREX_BINARY:-}" ]; then
  binary="$FLOWREX_BINARY"
else
  cargo build --release --locked -p flowrex-api --bin flowrex >&2
  binary="$CARGO_TARGET_DIR/release/flowrex"
fi
[ -d tests/oidc-provider/node_modules ] || (cd tests/oidc-provider && npm ci --no-audit --no-fund --loglevel=error)
work=$(mktemp -d)
spare() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
op_port=$(spare); port=$(spare)
base="http://127.0.0.1:$port"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
accounts=$(python3 -c 'import json; print(json.dumps({f"user{i}": {"email": f"user{i}@bench.test", "email_verified": True} for i in range(50)}))')
PORT=$op_port REDIRECT_URIS="$base/api/v1/auth/oauth/idp/callback" ACCOUNTS="$accounts" \
  node tests/oidc-provider/server.mjs > "$work/provider.log" 2>&1 &
pids+=($!)
# The provider first: the service reads its discovery at start-up.
until curl -fsS "http://127.0.0.1:$op_port/.well-known/openid-configuration" >/dev/null 2>&1; do sleep 0.05; done
env -i PATH="$PATH" PORT="$port" HOST=127.0.0.1 DATABASE_URL="sqlite://$work/bench.db" \
  JWT_SECRET_KEY=bench-secret APP_SECRET_KEY=bench-app-secret RUST_LOG=warn \
  RATE_LIMIT_PER_MINUTE=0 PUBLIC_URL="$base" OAUTH_PROVIDERS=idp \
  OAUTH_IDP_ISSUER="http://127.0.0.1:$op_port" OAUTH_IDP_CLIENT_ID=flowrex \
  OAUTH_IDP_CLIENT_SECRET=flowrex-test-secret OAUTH_RETURN_URLS="$base/health" \
  "$binary" > "$work/server.log" 2>&1 &
pids+=($!)
until curl -fsS "$base/health" >/dev/null 2>&1; do sleep 0.05; done
echo "flowrex sign-in with an outside provider — $(date +%F), $(nproc) cores, $COUNT sign-ins, oidc-provider on loopback"
python3 bench/federation.py "$base" "$base/health" "$COUNT"
