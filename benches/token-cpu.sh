#!/usr/bin/env bash
# Server CPU per request at the token endpoints, read from the server's own /proc counters
# (utime+stime) around a fixed number of requests. Throughput on a shared 2-core machine says
# as much about the load generator and the neighbours as about Tessera; the server's CPU time
# per request does not, so this is the number to compare between two builds.
#
#     cargo build --release && bash benches/token-cpu.sh [path-to-tessera-binary]
#
# Scenarios, each a table row:
#   client_credentials          POST /oauth/token, HTTP Basic: one access token signed per request
#   oauth refresh (chained)     POST /oauth/token grant_type=refresh_token, each request presenting
#                               the token the previous one returned (rotation, as a real client)
#   simplejwt refresh (chained) POST /api/token/refresh/, same chaining
# then one RSA-2048 signature's cost from `openssl speed`, to tell how much of a
# client_credentials request is the signature and how much is everything else.
#
# REQUESTS (per scenario, default 2000), CONNECTIONS (keep-alive connections, default 8),
# TIME_LIMIT (seconds per scenario, default 60), WORKERS (Tessera's worker count) tune the run.
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
export TESSERA_DATABASE_URL="sqlite://$dir/tessera.db"
export TESSERA_KEYS_DIR="$dir/keys"
export TESSERA_LISTEN="127.0.0.1:$port"
export TESSERA_ISSUER="http://127.0.0.1:$port"
export TESSERA_ADMIN_PASSWORD="token-cpu-admin-password"
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


def oauth_refresh_token():
    b = Browser()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({
        "response_type": "code", "client_id": AC["client_id"], "redirect_uri": REDIRECT,
        "scope": "openid offline_access", "code_challenge": challenge,
        "code_challenge_method": "S256", "state": "x",
    }, quote_via=quote)
    status, location, page = b.go("GET", "/oauth/authorize?" + query)
    # Follow the flow whichever way it goes: login page, consent page, redirect with the code.
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
    status, _, data = request(b.c, "POST", "/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }), {**FORM, **basic(AC)})
    answer = json.loads(data) if status == 200 else {}
    if "refresh_token" not in answer:
        die(f"code exchange: HTTP {status} {data[:300]!r}")
    return answer["refresh_token"]


def simplejwt_refresh_token():
    status, _, data = request(conn(), "POST", "/api/token/",
                              json.dumps({"username": USER, "password": PASSWORD}), JSON)
    if status != 200:
        die(f"/api/token/: HTTP {status} {data[:300]!r}")
    return json.loads(data)["refresh"]


# --- the measured part --------------------------------------------------------------------

def client_credentials_step(c, _state):
    status, _, data = request(c, "POST", "/oauth/token", "grant_type=client_credentials&scope=api",
                              {**FORM, **basic(CC)})
    return status == 200 and b"access_token" in data, None


def oauth_refresh_step(c, token):
    status, _, data = request(c, "POST", "/oauth/token",
                              urlencode({"grant_type": "refresh_token", "refresh_token": token}),
                              {**FORM, **basic(AC)})
    if status != 200:
        return False, None
    return True, json.loads(data).get("refresh_token")


def simplejwt_refresh_step(c, token):
    status, _, data = request(c, "POST", "/api/token/refresh/", json.dumps({"refresh": token}), JSON)
    if status != 200:
        return False, None
    return True, json.loads(data).get("refresh")


def run(label, step, states):
    """C connections, N requests between them; a chain that breaks (error or no rotated
    token) stops, since presenting a spent refresh token would revoke its whole family."""
    per_conn = [N // C + (1 if i < N % C else 0) for i in range(C)]
    done, errors = [0] * C, [0] * C
    conns = [conn() for _ in range(C)]
    for c in conns:  # open the sockets outside the measured window
        c.connect()
    start_gate = threading.Barrier(C + 1)
    deadline = [0.0]

    def worker(i):
        state = states[i]
        start_gate.wait()
        for _ in range(per_conn[i]):
            if time.monotonic() > deadline[0]:
                break
            try:
                ok, state_next = step(conns[i], state)
            except (OSError, http.client.HTTPException, ValueError):
                ok, state_next = False, None
                conns[i] = conn()
            done[i] += 1
            if not ok:
                errors[i] += 1
                if state is not None:
                    break
                continue
            if state is not None:
                if not state_next:
                    errors[i] += 1
                    break
                state = state_next

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(C)]
    for t in threads:
        t.start()
    before = cpu_ticks()
    t0 = time.monotonic()
    deadline[0] = t0 + LIMIT
    start_gate.wait()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    cpu_s = (cpu_ticks() - before) / TICK
    n = sum(done)
    per_req_ms = 1000 * cpu_s / n if n else float("nan")
    print(f"{label:<28} {n:>8} {wall:>8.2f} {n / wall:>8.1f} {per_req_ms:>11.3f} {sum(errors):>6}"
          + ("  (time limit hit)" if n < N and time.monotonic() - t0 >= LIMIT else ""), flush=True)
    return per_req_ms


def rsa_sign_per_s():
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048"],
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
print(f"{N} requests per scenario over {C} keep-alive connections, at most {LIMIT:g}s each")
print(f"{'scenario':<28} {'requests':>8} {'wall s':>8} {'req/s':>8} {'cpu ms/req':>11} {'errors':>6}")
cc_ms = run("client_credentials", client_credentials_step, [None] * C)
run("oauth refresh (chained)", oauth_refresh_step, oauth_states)
run("simplejwt refresh (chained)", simplejwt_refresh_step, sjwt_states)

# Measured after the scenarios so it does not compete with the server for a core.
signs = rsa_sign_per_s()
if signs:
    sign_ms = 1000 / signs
    print(f"openssl rsa2048: {signs:.1f} sign/s on one core ({sign_ms:.3f} ms per signature); "
          f"client_credentials server CPU / one signature = {cc_ms / sign_ms:.2f}")
else:
    print("openssl speed unavailable: no signature baseline")
PY
