#!/usr/bin/env bash
# One table of what a release build of Tessera does under load, per endpoint: requests/s,
# client-side p50 and p99 latency, errors, the server's peak RSS, and the server's CPU time
# per request read from its own /proc counters (utime+stime). Throughput on a shared 2-core
# machine says as much about the load generator and the neighbours as about Tessera; the
# server's CPU per request does not, so that is the number to compare between two builds.
#
#     cargo build --release && bash benches/load-table.sh [path-to-tessera-binary]
#     DATABASE_URL=postgres://postgres@127.0.0.1:5432/tessera_bench bash benches/load-table.sh
#
# Rows: discovery and JWKS (from memory); client_credentials (one signature); the
# authorization_code exchange (pre-minted codes); OAuth and SimpleJWT refresh, chained per
# connection (each connection presents the token it got last, as a rotating client does);
# SimpleJWT login (Argon2id); SimpleJWT verify, /hello/, userinfo and introspection (one
# RS256 verification each); and JWKS while password logins run at the same time. Then one
# RSA-2048 signature's cost from `openssl speed` and each signing row's CPU per request in
# signatures.
#
# REQUESTS (per row, default 2000; logins get a tenth), CONNECTIONS (keep-alive connections,
# default 8), TIME_LIMIT (seconds per row, default 60), WORKERS (Tessera's worker count),
# DATABASE_URL (a PostgreSQL database to create and use; default a fresh SQLite file).
# Needs python3 (standard library only) and, for the signature baseline, openssl.
set -euo pipefail

# A binary given on the command line is relative to the caller's directory, not the repository's.
bin=target/release/tessera
[ $# -gt 0 ] && bin=$(realpath -- "$1")
cd "$(dirname "$0")/.."
[ -x "$bin" ] || { echo "no executable at $bin (cargo build --release first)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
# A fresh database per run: the two builds being compared may have different migrations.
if [ -n "${DATABASE_URL:-}" ]; then
  psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${DATABASE_URL##*/}" >/dev/null
  psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE ${DATABASE_URL##*/}" >/dev/null
  export TESSERA_DATABASE_URL="$DATABASE_URL"
else
  export TESSERA_DATABASE_URL="sqlite://$dir/tessera.db"
fi
export TESSERA_KEYS_DIR="$dir/keys"
export TESSERA_LISTEN="127.0.0.1:$port"
export TESSERA_ISSUER="http://127.0.0.1:$port"
export TESSERA_ADMIN_PASSWORD="load-table-admin-password"
[ -n "${WORKERS:-}" ] && export TESSERA_WORKERS="$WORKERS"
export RUST_LOG=warn

server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" migrate >/dev/null
cc=$("$bin" client create --name bench-cc --grant-type client_credentials --scope api --json)
echo "database: ${TESSERA_DATABASE_URL%%:*}"
# The redirect URI is never dereferenced: the code is read from the Location header.
redirect_uri="http://127.0.0.1:$port/bench-callback"
ac=$("$bin" client create --name bench-refresh --redirect-uri "$redirect_uri" \
  --grant-type authorization_code --grant-type refresh_token --json)
bench_user=bench-user
bench_password="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
printf '%s' "$bench_password" | "$bin" user create --username "$bench_user" --password-stdin >/dev/null

"$bin" serve >"$dir/server.log" 2>&1 &
server=$!

export BENCH_PORT=$port BENCH_PID=$server BENCH_CC=$cc BENCH_AC=$ac BENCH_REDIRECT_URI=$redirect_uri
export BENCH_USER=$bench_user BENCH_PASSWORD=$bench_password BENCH_LOG="$dir/server.log"
export BENCH_REQUESTS=${REQUESTS:-2000} BENCH_CONNECTIONS=${CONNECTIONS:-8} BENCH_TIME_LIMIT=${TIME_LIMIT:-60}
echo "Tessera $("$bin" --version 2>/dev/null | awk '{print $NF}') ($(basename "$bin")) on $(nproc) cores"

python3 - <<'PY'
import base64, hashlib, html, http.client, json, os, re, secrets, subprocess, sys, threading, time
from urllib.parse import urlencode, urlsplit, parse_qs, quote

PORT = int(os.environ["BENCH_PORT"])
PID = int(os.environ["BENCH_PID"])
N = int(os.environ["BENCH_REQUESTS"])
C = int(os.environ["BENCH_CONNECTIONS"])
LIMIT = float(os.environ["BENCH_TIME_LIMIT"])
CC = json.loads(os.environ["BENCH_CC"])
AC = json.loads(os.environ["BENCH_AC"])
REDIRECT = os.environ["BENCH_REDIRECT_URI"]
USER, PASSWORD = os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"]
TICK = os.sysconf("SC_CLK_TCK")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def die(msg):
    sys.stderr.write(msg + "\n")
    try:
        with open(os.environ["BENCH_LOG"]) as f:
            sys.stderr.write("--- server log (tail)\n" + "".join(f.readlines()[-20:]))
    except OSError:
        pass
    sys.exit(1)


def cpu_ticks():
    with open(f"/proc/{PID}/stat") as f:
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def conn():
    # Loopback only: this measures Tessera, not a network.
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)


def basic(client):
    raw = f"{client['client_id']}:{client['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def request(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.getheaders(), r.read()


def wait_ready():
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.kill(PID, 0)
        except ProcessLookupError:
            die("tessera serve exited during start-up")
        try:
            if request(conn(), "GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    die("tessera did not become ready within 30s")


# --- getting the first refresh token of each chain (not measured) -----------------------

class Browser:
    """One keep-alive connection with a cookie jar: just enough of a browser for the
    authorization-code flow's login and consent pages."""

    def __init__(self):
        self.c = conn()
        self.cookies = {}

    def go(self, method, path, form=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers.update(FORM)
        status, hdrs, data = request(self.c, method, path, body, headers)
        for name, value in hdrs:
            if name.lower() == "set-cookie":
                pair, _, attrs = value.partition(";")
                k, _, v = pair.strip().partition("=")
                if re.search(r"max-age=0\b", attrs, re.I) or not v:
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = v
        location = next((v for n, v in hdrs if n.lower() == "location"), None)
        return status, location, data.decode("utf-8", "replace")


def hidden_fields(page):
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return fields


def local_path(location):
    u = urlsplit(location)
    return u.path + ("?" + u.query if u.query else "")


def code_via_browser(b, scope):
    """One authorization code (and its PKCE verifier) through the login and consent pages,
    whichever of them this browser still has to pass."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({
        "response_type": "code", "client_id": AC["client_id"], "redirect_uri": REDIRECT,
        "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256",
        "state": "x",
    }, quote_via=quote)
    status, location, page = b.go("GET", "/oauth/authorize?" + query)
    for _ in range(8):
        if location and location.startswith(REDIRECT):
            break
        if status in (302, 303):
            status, location, page = b.go("GET", local_path(location))
        elif status == 200 and 'action="/login"' in page:
            form = hidden_fields(page)
            form.update(username=USER, password=PASSWORD)
            status, location, page = b.go("POST", "/login", form)
        elif status == 200 and 'action="/oauth/authorize"' in page:
            form = hidden_fields(page)
            form["decision"] = "allow"
            status, location, page = b.go("POST", "/oauth/authorize", form)
        else:
            die(f"authorization flow stuck at HTTP {status}: {page[:300]!r}")
    else:
        die("authorization flow did not reach the redirect URI")
    code = parse_qs(urlsplit(location).query).get("code", [None])[0]
    if not code:
        die(f"no code in redirect: {location}")
    return code, verifier


def exchange(code, verifier):
    status, _, data = request(conn(), "POST", "/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }), {**FORM, **basic(AC)})
    answer = json.loads(data) if status == 200 else {}
    if "access_token" not in answer:
        die(f"code exchange: HTTP {status} {data[:300]!r}")
    return answer


def oauth_refresh_token():
    # A browser per chain: each chain is its own sign-in, so its own refresh-token family.
    return exchange(*code_via_browser(Browser(), "openid offline_access"))["refresh_token"]


def simplejwt_refresh_token():
    status, _, data = request(conn(), "POST", "/api/token/",
                              json.dumps({"username": USER, "password": PASSWORD}), JSON)
    if status != 200:
        die(f"/api/token/: HTTP {status} {data[:300]!r}")
    return json.loads(data)["refresh"]


# --- the measured part --------------------------------------------------------------------

def json_of(status, data, key):
    if status != 200:
        return None
    try:
        return json.loads(data).get(key)
    except ValueError:
        return None


def client_credentials_step(c, _state):
    status, _, data = request(c, "POST", "/oauth/token", "grant_type=client_credentials&scope=api",
                              {**FORM, **basic(CC)})
    return status == 200 and b"access_token" in data, None


def get_step(path, headers=None):
    def step(c, _state):
        status, _, _ = request(c, "GET", path, None, headers or {})
        return status == 200, None
    return step


def code_step(c, codes):
    if not codes:
        return False, None
    code, verifier = codes.pop()
    status, _, data = request(c, "POST", "/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier}), {**FORM, **basic(AC)})
    return status == 200, (codes if codes else None) if status == 200 else None


def oauth_refresh_step(c, token):
    status, _, data = request(c, "POST", "/oauth/token",
                              urlencode({"grant_type": "refresh_token", "refresh_token": token}),
                              {**FORM, **basic(AC)})
    nxt = json_of(status, data, "refresh_token")
    return nxt is not None, nxt


def simplejwt_refresh_step(c, token):
    status, _, data = request(c, "POST", "/api/token/refresh/", json.dumps({"refresh": token}), JSON)
    nxt = json_of(status, data, "refresh")
    return nxt is not None, nxt


def login_step(c, _state):
    status, _, _ = request(c, "POST", "/api/token/",
                           json.dumps({"username": USER, "password": PASSWORD}), JSON)
    return status == 200, None


def verify_step(token):
    def step(c, _state):
        status, _, _ = request(c, "POST", "/api/token/verify/", json.dumps({"token": token}), JSON)
        return status == 200, None
    return step


def introspect_step(token):
    def step(c, _state):
        status, _, data = request(c, "POST", "/oauth/introspect", urlencode({"token": token}),
                                  {**FORM, **basic(AC)})
        return status == 200 and b'"active":true' in data, None
    return step


def peak_rss_mb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def load(step, states, n, conns_n, stop=None):
    """conns_n connections, n requests between them. A chained state (a refresh token, a
    list of codes) that breaks stops its connection: presenting a spent refresh token would
    revoke its whole family. Returns (requests, errors, latencies in ms, wall seconds)."""
    per_conn = [n // conns_n + (1 if i < n % conns_n else 0) for i in range(conns_n)]
    done, errors = [0] * conns_n, [0] * conns_n
    lat = [[] for _ in range(conns_n)]
    conns = [conn() for _ in range(conns_n)]
    for c in conns:  # open the sockets outside the measured window
        c.connect()
    gate = threading.Barrier(conns_n + 1)
    deadline = [0.0]

    def worker(i):
        state = states[i]
        gate.wait()
        for _ in range(per_conn[i]):
            if time.monotonic() > deadline[0] or (stop is not None and stop.is_set()):
                break
            t = time.perf_counter()
            try:
                ok, state_next = step(conns[i], state)
            except (OSError, http.client.HTTPException, ValueError):
                ok, state_next = False, None
                conns[i] = conn()
            lat[i].append(1000 * (time.perf_counter() - t))
            done[i] += 1
            if not ok:
                errors[i] += 1
                if state is not None:
                    break
                continue
            if state is not None:
                if not state_next:
                    break
                state = state_next

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns_n)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    deadline[0] = t0 + LIMIT
    gate.wait()
    for t in threads:
        t.join()
    return sum(done), sum(errors), sorted(x for l in lat for x in l), time.monotonic() - t0


def run(label, step, states, n=N, conns_n=C):
    before = cpu_ticks()
    done, errors, lat, wall = load(step, states, n, conns_n)
    cpu_ms = 1000 * (cpu_ticks() - before) / TICK / done if done else float("nan")
    print(f"{label:<30} {done / wall:>9.1f} {percentile(lat, 50):>8.2f} {percentile(lat, 99):>8.2f}"
          f" {errors:>6} {peak_rss_mb():>8.1f} {cpu_ms:>10.3f}", flush=True)
    return cpu_ms


def mixed_jwks_and_logins():
    """JWKS latency while password logins (Argon2id, ~19 MiB each) keep both cores busy."""
    stop = threading.Event()
    logins = {}

    def hash_load():
        logins["r"] = load(login_step, [None] * 8, 10 ** 6, 8, stop)

    before = cpu_ticks()
    t = threading.Thread(target=hash_load)
    t.start()
    time.sleep(0.5)  # the logins are running before JWKS is measured
    done, errors, lat, wall = load(get_step("/.well-known/jwks.json"), [None] * C, N, C)
    stop.set()
    t.join()
    l_done, l_errors, _, _ = logins["r"]
    print(f"{'jwks during 8 logins':<30} {done / wall:>9.1f} {percentile(lat, 50):>8.2f} "
          f"{percentile(lat, 99):>8.2f} {errors + l_errors:>6} {peak_rss_mb():>8.1f} "
          f"{'-':>10}   ({l_done} logins meanwhile)", flush=True)


def mint_codes(count):
    """Codes for the exchange row, minted through one signed-in browser (consent is
    remembered after the first)."""
    b = Browser()
    return [code_via_browser(b, "openid") for _ in range(count)]


def rsa_sign_per_s():
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", "3", "-multi", "1", "rsa2048"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    header = row = None
    for line in out.splitlines():
        if "sign/s" in line:
            header = line.split()
        elif line.startswith("rsa 2048 bits") and header:
            row = line.split()[3:]
    if not header or not row or len(row) != len(header):
        return None
    return float(row[header.index("sign/s")])


wait_ready()
oauth_states = [oauth_refresh_token() for _ in range(C)]
sjwt_states = [simplejwt_refresh_token() for _ in range(C)]
status, _, data = request(conn(), "POST", "/api/token/",
                          json.dumps({"username": USER, "password": PASSWORD}), JSON)
sjwt_access = json.loads(data)["access"]
codes = mint_codes(min(N, 1000))
per_conn_codes = [codes[i::C] for i in range(C)]
# An OAuth access token with openid, for userinfo and introspection.
oauth_access = exchange(*mint_codes(1)[0])["access_token"]
print(f"{N} requests per row over {C} keep-alive connections (logins: {max(N // 10, C)}), "
      f"at most {LIMIT:g}s each; latencies are the load generator's, on the same 2 cores")
print(f"{'row':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'rss MB':>8} "
      f"{'cpu ms/req':>10}")
run("discovery", get_step("/.well-known/openid-configuration"), [None] * C)
run("jwks", get_step("/.well-known/jwks.json"), [None] * C)
signing = {}
signing["client_credentials"] = (run("client_credentials", client_credentials_step, [None] * C), 1)
signing["authorization_code exchange"] = (
    run("authorization_code exchange", code_step, per_conn_codes, n=len(codes)), 2)
signing["oauth refresh (chained)"] = (run("oauth refresh (chained)", oauth_refresh_step, oauth_states), 2)
signing["simplejwt refresh (chained)"] = (
    run("simplejwt refresh (chained)", simplejwt_refresh_step, sjwt_states), 2)
signing["simplejwt login"] = (run("simplejwt login", login_step, [None] * C, n=max(N // 10, C)), 2)
run("simplejwt verify", verify_step(sjwt_access), [None] * C)
run("/hello/", get_step("/hello/", {"Authorization": f"Bearer {sjwt_access}"}), [None] * C)
run("userinfo", get_step("/oauth/userinfo", {"Authorization": f"Bearer {oauth_access}"}), [None] * C)
run("introspection", introspect_step(oauth_access), [None] * C)
mixed_jwks_and_logins()

# Measured after the rows so it does not compete with the server for a core.
signs = rsa_sign_per_s()
if signs:
    sign_ms = 1000 / signs
    print(f"openssl rsa2048: {signs:.1f} sign/s on one core ({sign_ms:.3f} ms per signature)")
    for label, (cpu_ms, sigs) in signing.items():
        print(f"  {label:<30} {cpu_ms:.3f} ms = {cpu_ms / sign_ms:.2f} signatures "
              f"({sigs} signed per request: {cpu_ms / (sigs * sign_ms):.2f}x the signatures alone)")
else:
    print("openssl speed unavailable: no signature baseline")
PY
