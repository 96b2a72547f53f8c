#!/usr/bin/env bash
# One table of what a release build of Tessera does under load, on SQLite and on PostgreSQL:
# per row, requests/s, the load generator's p50 and p99 latency, errors, the server's peak
# RSS during that row, and the server's CPU time per request read from its own /proc
# counters (utime+stime). Throughput on a shared machine says as much about the load
# generator and the neighbours as about Tessera; the server's CPU per request does not, so
# that is the number to compare between two builds.
#
#     cargo build --release && bash benches/load-table.sh [path-to-tessera-binary]
#
# First `openssl speed rsa2048` on every core: one signature's and one verification's CPU
# time. Then per backend: discovery and JWKS (from memory); client_credentials (one
# signature); the authorization_code exchange (pre-minted codes); OAuth and SimpleJWT refresh,
# chained per connection (each connection presents the token it got last, as a rotating
# client does); SimpleJWT login (Argon2id); SimpleJWT verify, /hello/, userinfo and
# introspection (one RS256 verification each); JWKS while eight password logins run all the
# time; and the cold start to ready on the existing database (five starts). Signing rows
# show their CPU in signatures and what is left beyond them; verifying rows what is left
# beyond the verification.
#
# BACKENDS (default "sqlite postgres"; PostgreSQL is skipped when PG_URL's server does not
# answer), PG_URL (a database to drop and create; default
# postgres://postgres@127.0.0.1:5432/tessera_bench), SECONDS_PER_ROW (default 5), ROWS (only the rows whose labels contain one of these comma-separated words, to profile one path),
# CONNECTIONS (default 8), CODES (pre-minted codes, default 2000), WORKERS (Tessera's
# worker count). Needs wrk (Debian: apt-get install wrk), python3 and openssl.
set -euo pipefail

# A binary given on the command line is relative to the caller's directory, not the repository's.
bin=target/release/tessera
[ $# -gt 0 ] && bin=$(realpath -- "$1")
cd "$(dirname "$0")/.."
[ -x "$bin" ] || { echo "no executable at $bin (cargo build --release first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

export PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/tessera_bench}
backends=()
for backend in ${BACKENDS:-sqlite postgres}; do
  if [ "$backend" = postgres ] && ! psql "${PG_URL%/*}/postgres" -qc 'select 1' >/dev/null 2>&1; then
    echo "PostgreSQL at ${PG_URL%/*} does not answer: its rows are skipped" >&2
    continue
  fi
  backends+=("$backend")
done
echo "Tessera $("$bin" --version 2>/dev/null | awk '{print $NF}') ($(basename "$bin")) on $(nproc) cores"
exec python3 benches/load_table.py "$bin" "${backends[@]}"
