#!/usr/bin/env bash
# client_credentials grants per signing algorithm: one client per algorithm (RS256, PS256,
# ES256, EdDSA), the same load on each, and the server's CPU time per grant read from its
# own /proc counters (utime+stime), which says how many grants one core can sign whatever
# else runs on the machine. Kept apart from load-table.sh so the two evolve separately.
#
#     cargo build --release && bash benches/load-algorithms.sh [path-to-tessera-binary]
#
# REQUESTS (per algorithm, default 4000), CONNECTIONS (keep-alive connections, default 8),
# WORKERS (Tessera's worker count). Needs python3 (standard library only).
set -euo pipefail

bin=target/release/tessera
[ $# -gt 0 ] && bin=$(realpath -- "$1")
cd "$(dirname "$0")/.."
[ -x "$bin" ] || { echo "no executable at $bin (cargo build --release first)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
export TESSERA_DATABASE_URL="sqlite://$dir/tessera.db"
export TESSERA_KEYS_DIR="$dir/keys"
export TESSERA_LISTEN="127.0.0.1:$port"
export TESSERA_ISSUER="http://127.0.0.1:$port"
export TESSERA_ADMIN_PASSWORD="load-algorithms-admin-password"
# The new keys sign at once: nothing here caches the JWKS.
export TESSERA_KEY_ACTIVATION_DELAY=0
[ -n "${WORKERS:-}" ] && export TESSERA_WORKERS="$WORKERS"
export RUST_LOG=warn

server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" migrate >/dev/null
"$bin" keys rotate >/dev/null
clients="{"
for alg in RS256 PS256 ES256 EdDSA; do
  [ "$alg" = RS256 ] || "$bin" keys rotate --alg "$alg" >/dev/null
  c=$("$bin" client create --name "bench-$alg" --grant-type client_credentials --scope api \
    --access-token-alg "$alg" --json)
  clients="$clients\"$alg\": $c,"
done
export BENCH_CLIENTS="${clients%,}}"

"$bin" serve >"$dir/server.log" 2>&1 &
server=$!
export BENCH_PORT=$port BENCH_PID=$server BENCH_LOG="$dir/server.log"
export BENCH_REQUESTS=${REQUESTS:-4000} BENCH_CONNECTIONS=${CONNECTIONS:-8}
echo "Tessera $("$bin" --version 2>/dev/null | awk '{print $NF}') ($(basename "$bin")) on $(nproc) cores"

python3 - <<'PY'
import base64, http.client, json, os, sys, threading, time

PORT = int(os.environ["BENCH_PORT"])
PID = int(os.environ["BENCH_PID"])
N = int(os.environ["BENCH_REQUESTS"])
C = int(os.environ["BENCH_CONNECTIONS"])
CLIENTS = json.loads(os.environ["BENCH_CLIENTS"])
TICK = os.sysconf("SC_CLK_TCK")


def die(msg):
    sys.stderr.write(msg + "\n")
    with open(os.environ["BENCH_LOG"]) as f:
        sys.stderr.write("--- server log (tail)\n" + "".join(f.readlines()[-20:]))
    sys.exit(1)


def cpu_ticks():
    with open(f"/proc/{PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def conn():
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)


deadline = time.time() + 30
while True:
    try:
        c = conn()
        c.request("GET", "/readyz")
        if c.getresponse().status == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        die("tessera did not become ready within 30s")
    time.sleep(0.2)


def header_alg(token):
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"]


def run(alg, client, n):
    raw = f"{client['client_id']}:{client['client_secret']}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode(),
               "Content-Type": "application/x-www-form-urlencoded"}
    body = "grant_type=client_credentials&scope=api"
    lat, errors, lock = [], [0], threading.Lock()
    per = [n // C + (1 if i < n % C else 0) for i in range(C)]

    def worker(count):
        c = conn()
        mine = []
        for _ in range(count):
            t = time.perf_counter()
            c.request("POST", "/oauth/token", body, headers)
            r = c.getresponse()
            data = r.read()
            mine.append(time.perf_counter() - t)
            if r.status != 200 or header_alg(json.loads(data)["access_token"]) != alg:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    def run_threads(counts):
        threads = [threading.Thread(target=worker, args=(k,)) for k in counts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # Warm the secret cache first: not measured.
    run_threads([20] * C)
    lat.clear()
    errors[0] = 0
    before, start = cpu_ticks(), time.perf_counter()
    run_threads(per)
    wall = time.perf_counter() - start
    cpu_s = (cpu_ticks() - before) / TICK
    lat.sort()
    pct = lambda p: 1000 * lat[min(len(lat) - 1, int(len(lat) * p / 100))]
    cpu_ms = 1000 * cpu_s / n
    print(f"client_credentials {alg:<6} {n / wall:>9.1f} {pct(50):>8.2f} {pct(99):>8.2f} "
          f"{errors[0]:>6} {cpu_ms:>10.3f} {1000 / cpu_ms if cpu_ms else float('inf'):>14.0f}")
    return cpu_ms


print(f"{N} grants per algorithm over {C} keep-alive connections")
print(f"{'row':<25} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'cpu ms/req':>10} {'grants/core-s':>14}")
cost = {alg: run(alg, client, N) for alg, client in CLIENTS.items()}
base = cost["RS256"]
print("server CPU per grant relative to RS256: " + ", ".join(
    f"{alg} {base / ms:.1f}x" for alg, ms in cost.items() if alg != "RS256"))
PY
