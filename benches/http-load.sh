#!/usr/bin/env bash
# HTTP throughput of the release binary under wrk: the JWKS (served from memory), the token
# endpoint (client_credentials: one RS256 signature per request) and /hello/ (one RS256
# verification and one indexed lookup per request).
# Prints requests/s and latency for each. Needs wrk (apt-get install wrk).
#
#     cargo build --release && bash benches/http-load.sh
#
# DURATION (default 10s), CONNECTIONS (default 32), THREADS (default 2), WORKERS (Tessera's
# worker count, default: one per core) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
bin=target/release/tessera
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
export TESSERA_DATABASE_URL="sqlite://$dir/tessera.db"
export TESSERA_KEYS_DIR="$dir/keys"
export TESSERA_LISTEN="127.0.0.1:$port"
export TESSERA_ISSUER="http://127.0.0.1:$port"
export TESSERA_ADMIN_PASSWORD="load-test-admin-password"
[ -n "${WORKERS:-}" ] && export TESSERA_WORKERS="$WORKERS"
export RUST_LOG=warn

"$bin" migrate >/dev/null
client=$("$bin" client create --name load --grant-type client_credentials --scope api --json)
client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$client")
client_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$client")
"$bin" serve >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

access=$(curl -sf "http://127.0.0.1:$port/api/token/" -H 'Content-Type: application/json' \
  -d '{"username": "admin", "password": "load-test-admin-password"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')

basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
cat >"$dir/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA

run() {
  local label=$1; shift
  echo "== $label"
  wrk --latency -t"$threads" -c"$connections" -d"$duration" "$@" |
    grep -E "Requests/sec|Latency  |  50%|  99%|Non-2xx"
}

echo "Tessera $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores; wrk -t$threads -c$connections -d$duration"
run "GET /.well-known/jwks.json" "http://127.0.0.1:$port/.well-known/jwks.json"
run "POST /oauth/token (client_credentials, one RS256 signature each)" -s "$dir/token.lua" "http://127.0.0.1:$port/oauth/token"
run "GET /hello/ (one RS256 verification each)" -H "Authorization: Bearer $access" "http://127.0.0.1:$port/hello/"
