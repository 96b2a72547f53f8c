#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: the number to compare between
# two builds when the machine is shared. Wall-clock and CPU-time figures (load-table.sh)
# move with the neighbours on a virtual machine (this one's RSA signature took 0.27 ms on a
# quiet morning and 1.3 ms an hour later); a count of executed instructions does not. The
# kernel's share (system calls, locks, the network) is not counted: load-table.sh shows it.
#
#     cargo build --release && bash benches/instructions.sh [path-to-tessera-binary]
#
# Per backend and path, N requests (default 100) one after another on one keep-alive
# connection, after a warm-up: client_credentials, SimpleJWT verify and chained refresh, OAuth
# chained refresh, /hello/ and JWKS. Each line gives the instructions per request, those of
# its RSA signatures (the inclusive count of aws-lc's RSA_sign) and those beyond them.
# Under valgrind aws-lc may take another code path than on the bare CPU, so the RSA share
# is its own and is only comparable between runs of this script.
#
# BACKENDS (default "sqlite postgres"), PATHS (comma-separated, default all), N, PG_URL (as
# load-table.sh). Needs valgrind (Debian: apt-get install valgrind) and python3.
set -euo pipefail
bin=target/release/tessera
[ $# -gt 0 ] && bin=$(realpath -- "$1")
cd "$(dirname "$0")/.."
[ -x "$bin" ] || { echo "no executable at $bin (cargo build --release first)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
export PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/tessera_bench}
for backend in ${BACKENDS:-sqlite postgres}; do
  if [ "$backend" = postgres ] && ! psql "${PG_URL%/*}/postgres" -qc 'select 1' >/dev/null 2>&1; then
    echo "PostgreSQL at ${PG_URL%/*} does not answer: skipped" >&2
    continue
  fi
  python3 benches/instructions.py "$bin" "$backend"
done
