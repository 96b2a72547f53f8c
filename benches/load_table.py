"""The load table's driver (run by benches/load-table.sh, which documents it).

Python sets each backend up (clients, a user, refresh-token chains, pre-minted codes), starts
the server, and reads the server's own counters; wrk, a C load generator, sends the load, so
the generator's share of the two cores stays small. Each row is one wrk run whose Lua script
this file writes: fixed requests, or a state per connection (a refresh chain, a list of
codes) that the connection carries forward.
"""
import base64, hashlib, html, http.client, json, os, re, secrets, signal, socket, statistics
import subprocess, sys, tempfile, threading, time
from urllib.parse import urlencode, urlsplit, parse_qs, quote

BIN = os.path.realpath(sys.argv[1]) if len(sys.argv) > 1 else ""
BACKENDS = sys.argv[2:] or ["sqlite"]
SECONDS = float(os.environ.get("SECONDS_PER_ROW", "5"))
C = int(os.environ.get("CONNECTIONS", "8"))
CODES = int(os.environ.get("CODES", "2000"))
# Only the rows whose labels contain one of these (comma-separated), e.g. to profile one path.
ROWS = [r for r in os.environ.get("ROWS", "").split(",") if r]
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/tessera_bench")
TICK = os.sysconf("SC_CLK_TCK")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
HERE = os.path.dirname(os.path.abspath(__file__))


def die(msg, log=None):
    sys.stderr.write(msg + "\n")
    if log:
        try:
            with open(log) as f:
                sys.stderr.write("--- server log (tail)\n" + "".join(f.readlines()[-20:]))
        except OSError:
            pass
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- one RSA-2048 signature and verification, from openssl, on every core ------------------

def openssl_speed(*extra, seconds=3):
    """`openssl speed rsa2048`'s (sign/s, verify/s)."""
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), *extra, "rsa2048"],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    header = row = None
    for line in out.splitlines():
        if "sign/s" in line:
            header = line.split()
        elif re.match(r"rsa\s+2048 bits", line):
            row = line.split()[3:]
    if not header or not row or len(row) != len(header):
        return None
    return float(row[header.index("sign/s")]), float(row[header.index("verify/s")])


def openssl_rsa():
    """One core, then every core. On one core `openssl speed` divides by its CPU time, so a
    busy machine hardly changes the cost of one signature it reports; with `-multi` it
    divides by wall-clock time, so that line is the machine's total only when it is quiet."""
    one = openssl_speed()
    cores = os.cpu_count() or 1
    every = openssl_speed("-multi", str(cores)) if cores > 1 else one
    return one, every, cores


# --- a server and the state its rows need -------------------------------------------------

class Server:
    def __init__(self, backend, work):
        self.work = work
        self.port = free_port()
        self.log = os.path.join(work, "server.log")
        env = dict(os.environ)
        if backend == "postgres":
            base, name = PG_URL.rsplit("/", 1)
            for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
                subprocess.run(["psql", base + "/postgres", "-qc", sql], check=True,
                               capture_output=True)
            env["TESSERA_DATABASE_URL"] = PG_URL
        else:
            env["TESSERA_DATABASE_URL"] = f"sqlite://{work}/tessera.db"
        env.update(TESSERA_KEYS_DIR=os.path.join(work, "keys"),
                   TESSERA_LISTEN=f"127.0.0.1:{self.port}",
                   TESSERA_ISSUER=f"http://127.0.0.1:{self.port}",
                   TESSERA_ADMIN_PASSWORD="load-table-admin-password", RUST_LOG="warn")
        if os.environ.get("WORKERS"):
            env["TESSERA_WORKERS"] = os.environ["WORKERS"]
        self.env = env
        self.proc = None

    def cli(self, *args, stdin=None):
        r = subprocess.run([BIN, *args], env=self.env, input=stdin, capture_output=True,
                           text=True)
        if r.returncode != 0:
            die(f"tessera {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def start(self):
        log = open(self.log, "a")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=log, stderr=log)
        while True:
            if self.proc.poll() is not None:
                die("tessera serve exited during start-up", self.log)
            if time.monotonic() - t0 > 30:
                die("tessera did not become ready within 30 s", self.log)
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.001)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)

    def reset_peak_rss(self):
        # "5" resets VmHWM to the current RSS (proc(5), clear_refs), so each row's peak is its own.
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def peak_rss_mb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def request(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.getheaders(), r.read()


def basic(client):
    raw = f"{client['client_id']}:{client['client_secret']}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class Browser:
    """One keep-alive connection with a cookie jar: enough of a browser for the
    authorization-code flow's login and consent pages."""

    def __init__(self, port):
        self.c = conn(port)
        self.cookies = {}

    def go(self, method, path, form=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = FORM
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


class Fixture:
    """The clients, the user and the tokens the rows use, on one running server."""

    def __init__(self, server):
        self.s = server
        self.port = server.port
        self.redirect = f"http://127.0.0.1:{self.port}/bench-callback"
        self.cc = json.loads(server.cli("client", "create", "--name", "bench-cc", "--grant-type",
                                        "client_credentials", "--scope", "api", "--json"))
        self.ac = json.loads(server.cli("client", "create", "--name", "bench-refresh",
                                        "--redirect-uri", self.redirect, "--grant-type",
                                        "authorization_code", "--grant-type", "refresh_token",
                                        "--json"))
        self.user = "bench-user"
        self.password = "bench-" + secrets.token_hex(12)
        server.cli("user", "create", "--username", self.user, "--password-stdin",
                   stdin=self.password)

    def code(self, b, scope):
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({
            "response_type": "code", "client_id": self.ac["client_id"],
            "redirect_uri": self.redirect, "scope": scope, "code_challenge": challenge,
            "code_challenge_method": "S256", "state": "x",
        }, quote_via=quote)
        status, location, page = b.go("GET", "/oauth/authorize?" + query)
        for _ in range(8):
            if location and location.startswith(self.redirect):
                break
            if status in (302, 303):
                status, location, page = b.go("GET", local_path(location))
            elif status == 200 and 'action="/login"' in page:
                form = hidden_fields(page)
                form.update(username=self.user, password=self.password)
                status, location, page = b.go("POST", "/login", form)
            elif status == 200 and 'action="/oauth/authorize"' in page:
                form = hidden_fields(page)
                form["decision"] = "allow"
                status, location, page = b.go("POST", "/oauth/authorize", form)
            else:
                die(f"authorization flow stuck at HTTP {status}: {page[:300]!r}", self.s.log)
        else:
            die("authorization flow did not reach the redirect URI", self.s.log)
        code = parse_qs(urlsplit(location).query).get("code", [None])[0]
        if not code:
            die(f"no code in redirect: {location}")
        return code, verifier

    def exchange(self, code, verifier):
        status, _, data = request(conn(self.port), "POST", "/oauth/token", urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect,
            "code_verifier": verifier,
        }), {"Content-Type": FORM, "Authorization": basic(self.ac)})
        answer = json.loads(data) if status == 200 else {}
        if "access_token" not in answer:
            die(f"code exchange: HTTP {status} {data[:300]!r}", self.s.log)
        return answer

    def codes(self, count):
        """Codes minted through one signed-in browser (consent is remembered after the
        first): (code, verifier) pairs."""
        b = Browser(self.port)
        return [self.code(b, "openid") for _ in range(count)]

    def oauth_refresh_token(self):
        # A browser per chain: each chain is its own sign-in, so its own refresh-token family.
        return self.exchange(*self.code(Browser(self.port), "openid offline_access"))["refresh_token"]

    def simplejwt_tokens(self):
        status, _, data = request(conn(self.port), "POST", "/api/token/",
                                  json.dumps({"username": self.user, "password": self.password}),
                                  {"Content-Type": JSON})
        if status != 200:
            die(f"/api/token/: HTTP {status} {data[:300]!r}", self.s.log)
        return json.loads(data)


# --- wrk rows -------------------------------------------------------------------------------

def lua_str(s):
    return "[==[" + s + "]==]"


LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *tp);
]]
local function now_us()
  local t = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, t)
  return tonumber(t.tv_sec) * 1e6 + tonumber(t.tv_nsec) / 1e3
end

local METHOD, PATH, HEADERS, BODY, MODE = %(method)s, %(path)s, %(headers)s, %(body)s, %(mode)s
local STATES = %(states)s

local threads, next_id = {}, 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

-- Globals, so that done() can read them through thread:get.
state, codes, done_n, errors_n, started, last = nil, nil, 0, 0, 0, 0
function init(args)
  started = now_us()
  last = started
  if MODE == "codes" then codes = STATES[id] or {} else state = STATES[id] end
end

function request()
  if MODE == "codes" then
    local c = codes[#codes]
    if c == nil then return wrk.format("GET", "/healthz") end
    return wrk.format(METHOD, PATH, HEADERS, BODY .. "&code=" .. c[1] .. "&code_verifier=" .. c[2])
  elseif MODE == "sjwt" then
    return wrk.format(METHOD, PATH, HEADERS, '{"refresh": "' .. state .. '"}')
  elseif MODE == "oauth" then
    return wrk.format(METHOD, PATH, HEADERS, BODY .. "&refresh_token=" .. state)
  end
  return wrk.format(METHOD, PATH, HEADERS, BODY)
end

function response(status, headers, body)
  done_n = done_n + 1
  last = now_us()
  local ok = status == 200
  if ok and MODE == "sjwt" then
    state = string.match(body, '"refresh"%%s*:%%s*"([^"]+)"')
    ok = state ~= nil
  elseif ok and MODE == "oauth" then
    state = string.match(body, '"refresh_token"%%s*:%%s*"([^"]+)"')
    ok = state ~= nil
  end
  if not ok then errors_n = errors_n + 1 end
  if MODE == "codes" then
    codes[#codes] = nil
    if #codes == 0 then wrk.thread:stop() end
  elseif not ok and MODE ~= "plain" then
    -- A broken chain stops: presenting a spent refresh token would revoke its family.
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local n, errs, first, final = 0, 0, nil, 0
  for _, t in ipairs(threads) do
    n = n + (t:get("done_n") or 0)
    errs = errs + (t:get("errors_n") or 0)
    local s, l = t:get("started"), t:get("last")
    if s and (first == nil or s < first) then first = s end
    if l and l > final then final = l end
  end
  local e = summary.errors
  errs = errs + e.connect + e.read + e.write + e.timeout
  io.write(string.format("BENCH %%d %%d %%.0f %%.0f %%.0f\n", n, errs, final - (first or final),
    latency:percentile(50.0), latency:percentile(99.0)))
end
"""


def lua_value(v):
    if v is None:
        return "nil"
    if isinstance(v, str):
        return lua_str(v)
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"[ {lua_str(k)} ] = {lua_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


# A row whose every request is the same: wrk sends its one prepared request and calls no Lua
# per response, and a thread per core serves several connections. The load generator shares
# the cores with the server, so what it spends on itself is taken from the server's rows.
LUA_PLAIN = r"""
wrk.method, wrk.path, wrk.body = %(method)s, %(path)s, %(body)s
for k, v in pairs(%(headers)s) do wrk.headers[k] = v end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%.0f %%.0f %%.0f\n", summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50.0), latency:percentile(99.0)))
end
"""


def wrk(port, work, method, path, headers=None, body="", mode="plain", states=None,
        connections=C, seconds=SECONDS):
    """One wrk run: (requests, errors, wall seconds, p50 ms, p99 ms). A chained row runs
    one thread per connection, so a thread's Lua state is its connection's state; a plain
    row runs a thread per core (at most one per connection) and no Lua per request."""
    script = os.path.join(work, f"row-{secrets.token_hex(4)}.lua")
    fields = {
        "method": lua_str(method), "path": lua_str(path), "headers": lua_value(headers or {}),
        "body": lua_str(body), "mode": lua_str(mode), "states": lua_value(states or []),
    }
    with open(script, "w") as f:
        f.write((LUA_PLAIN if mode == "plain" else LUA) % fields)
    threads = min(connections, os.cpu_count() or 1) if mode == "plain" else connections
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "30s", "-s", script, f"http://127.0.0.1:{port}"]
    ran = subprocess.run(cmd, capture_output=True, text=True)
    out = ran.stdout
    m = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if not m:
        die(f"wrk gave no result for {method} {path}:\n{out}{ran.stderr}")
    n, errors, wall_us, p50, p99 = (int(x) for x in m.groups())
    return n, errors, max(wall_us, 1) / 1e6, p50 / 1000, p99 / 1000


class Table:
    def __init__(self, sign_ms, verify_ms):
        self.sign_ms, self.verify_ms = sign_ms, verify_ms
        print(f"{'db':<8} {'row':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
              f"{'rss MB':>7} {'cpu ms':>7} {'beyond':>7}  crypto", flush=True)

    def line(self, db, label, n, errors, wall, p50, p99, rss, cpu_ms, sigs=0, verifies=0, note="",
             around=None):
        crypto = beyond = ""
        sign_ms, verify_ms = around or (self.sign_ms, self.verify_ms)
        if cpu_ms == cpu_ms and (sigs or verifies) and sign_ms:
            own = sigs * sign_ms + verifies * verify_ms
            beyond = f"{cpu_ms - own:7.3f}"
            if sigs:
                crypto = (f"{cpu_ms / sign_ms:.2f} signatures "
                          f"({cpu_ms / own:.2f}x its {sigs}; one {sign_ms:.3f} ms)")
            else:
                crypto = f"{cpu_ms / verify_ms:.1f} verifications (one {verify_ms:.4f} ms)"
        cpu = f"{cpu_ms:7.3f}" if cpu_ms == cpu_ms else f"{'-':>7}"
        print(f"{db:<8} {label:<30} {n / wall:>9.1f} {p50:>8.2f} {p99:>8.2f} {errors:>6} "
              f"{rss:>7.1f} {cpu} {beyond:>7}  {crypto}{note}", flush=True)


def run_backend(backend, table):
    work = tempfile.mkdtemp(prefix="tessera-bench-")
    s = Server(backend, work)
    try:
        s.cli("migrate")
        fx = Fixture(s)
        s.start()
        port = s.port
        oauth_states = [fx.oauth_refresh_token() for _ in range(C)]
        sjwt_states = [fx.simplejwt_tokens()["refresh"] for _ in range(C)]
        sjwt_access = fx.simplejwt_tokens()["access"]
        oauth_access = fx.exchange(*fx.codes(1)[0])["access_token"]
        json_h = {"Content-Type": JSON}
        login_body = json.dumps({"username": fx.user, "password": fx.password})

        def row(label, *args, sigs=0, verifies=0, **kw):
            if ROWS and not any(r in label for r in ROWS):
                return
            crypto = (sigs or verifies) and table.sign_ms
            # On a shared machine the cost of one RSA operation drifts by tens of percent
            # within minutes: the row's crypto is priced by openssl just before and just
            # after it, not only by the run's first measurement.
            first = openssl_speed(seconds=1) if crypto else None
            s.reset_peak_rss()
            before = s.cpu_ticks()
            n, errors, wall, p50, p99 = wrk(port, work, *args, **kw)
            cpu_ms = 1000 * (s.cpu_ticks() - before) / TICK / n if n else float("nan")
            last = openssl_speed(seconds=1) if crypto else None
            around = None
            if first and last:
                around = (2000 / (first[0] + last[0]), 2000 / (first[1] + last[1]))
            table.line(backend, label, n, errors, wall, p50, p99, s.peak_rss_mb(), cpu_ms,
                       sigs, verifies, around=around)

        row("discovery", "GET", "/.well-known/openid-configuration")
        row("jwks", "GET", "/.well-known/jwks.json")
        row("client_credentials", "POST", "/oauth/token",
            {"Content-Type": FORM, "Authorization": basic(fx.cc)},
            "grant_type=client_credentials&scope=api", sigs=1)
        codes = fx.codes(CODES)
        row("authorization_code exchange", "POST", "/oauth/token",
            {"Content-Type": FORM, "Authorization": basic(fx.ac)},
            "grant_type=authorization_code&redirect_uri=" + quote(fx.redirect, safe=""),
            mode="codes", states=[[list(c) for c in codes[i::C]] for i in range(C)],
            sigs=2)
        row("oauth refresh (chained)", "POST", "/oauth/token",
            {"Content-Type": FORM, "Authorization": basic(fx.ac)}, "grant_type=refresh_token",
            mode="oauth", states=oauth_states, sigs=2)
        row("simplejwt refresh (chained)", "POST", "/api/token/refresh/", json_h,
            mode="sjwt", states=sjwt_states, sigs=2)
        row("simplejwt login", "POST", "/api/token/", json_h, login_body, sigs=2)
        row("simplejwt verify", "POST", "/api/token/verify/", json_h,
            json.dumps({"token": sjwt_access}), verifies=1)
        row("/hello/", "GET", "/hello/", {"Authorization": f"Bearer {sjwt_access}"}, verifies=1)
        row("userinfo", "GET", "/oauth/userinfo", {"Authorization": f"Bearer {oauth_access}"},
            verifies=1)
        row("introspection", "POST", "/oauth/introspect",
            {"Content-Type": FORM, "Authorization": basic(fx.ac)},
            urlencode({"token": oauth_access}), verifies=1)

        def wanted(label):
            return not ROWS or any(r in label for r in ROWS)

        def jwks_during_logins():
            # JWKS while eight password logins (Argon2id) run all the time.
            s.reset_peak_rss()
            logins = {}

            def login_load():
                logins["r"] = wrk(port, work, "POST", "/api/token/", json_h, login_body,
                                  connections=8, seconds=SECONDS + 2)

            t = threading.Thread(target=login_load)
            t.start()
            time.sleep(0.75)  # the logins are running before JWKS is measured
            n, errors, wall, p50, p99 = wrk(port, work, "GET", "/.well-known/jwks.json")
            t.join()
            l_n, l_errors, l_wall, _, _ = logins["r"]
            table.line(backend, "jwks during 8 logins", n, errors + l_errors, wall, p50, p99,
                       s.peak_rss_mb(), float("nan"),
                       note=f"({l_n / l_wall:.1f} logins/s meanwhile)")

        def cold_start():
            # Cold start to ready on the database the rows just used.
            times = []
            for _ in range(5):
                s.stop()
                times.append(1000 * s.start())
            print(f"{backend:<8} {'cold start to ready':<30} median {statistics.median(times):.1f} ms "
                  f"(min {min(times):.1f}, max {max(times):.1f}; 5 starts on an existing database)",
                  flush=True)

        if wanted("jwks during 8 logins"):
            jwks_during_logins()
        if wanted("cold start to ready"):
            cold_start()
    finally:
        s.stop()
        subprocess.run(["rm", "-rf", work])


def main():
    one, every, cores = openssl_rsa()
    if one:
        sign_s, verify_s = one
        print(f"openssl speed rsa2048, one core: {sign_s:.0f} sign/s, {verify_s:.0f} verify/s: one "
              f"signature {1000 / sign_s:.3f} ms, one verification {1000 / verify_s:.4f} ms of CPU")
        if every:
            print(f"openssl speed -multi {cores} rsa2048, all {cores} cores: {every[0]:.0f} sign/s, "
                  f"{every[1]:.0f} verify/s")
        table = Table(1000 / sign_s, 1000 / verify_s)
    else:
        print("openssl speed unavailable: no signature baseline")
        table = Table(None, None)
    print(f"wrk, {C} keep-alive connections, {SECONDS:g} s per row; cpu ms = the server's own "
          f"CPU time per request; beyond = cpu ms minus its RSA operations, priced by openssl "
          f"just before and after the row", flush=True)
    for backend in BACKENDS:
        run_backend(backend, table)


if __name__ == "__main__":
    main()
