"""Instructions per request under callgrind (run by benches/instructions.sh, which documents
it). The server and its fixtures are load_table.py's; only the measuring differs: the server
runs under callgrind with instrumentation off, and each path turns it on, zeroes the
counters, sends its N requests and dumps, so start-up and fixtures are not counted."""
import json, os, re, shutil, subprocess, sys, tempfile, time

import load_table as lt

BIN, BACKEND = os.path.realpath(sys.argv[1]), sys.argv[2]
lt.BIN = BIN
N = int(os.environ.get("N", "100"))
PATHS = [p for p in os.environ.get("PATHS", "").split(",") if p]


def main():
    work = tempfile.mkdtemp(prefix="tessera-instructions-")
    s = lt.Server(BACKEND, work)
    try:
        measure(s, work)
    finally:
        s.stop()
        shutil.rmtree(work, ignore_errors=True)


def measure(s, work):
    s.cli("migrate")
    fx = lt.Fixture(s)
    out = os.path.join(work, "callgrind.out")
    log = open(s.log, "a")
    s.proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                               f"--callgrind-out-file={out}", BIN, "serve"],
                              env=s.env, stdout=log, stderr=log)
    started = time.monotonic()
    while True:
        if s.proc.poll() is not None:
            lt.die("tessera serve exited under valgrind", s.log)
        try:
            status, _, _ = lt.request(lt.conn(s.port), "GET", "/readyz")
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() - started > 300:
            lt.die("tessera did not become ready under valgrind within 300 s", s.log)
        time.sleep(0.2)

    tokens = fx.simplejwt_tokens()
    state = {"simplejwt": tokens["refresh"], "oauth": fx.oauth_refresh_token()}
    access = tokens["access"]
    form = {"Content-Type": lt.FORM}

    def ok(status, body, what):
        if status != 200:
            lt.die(f"{what}: HTTP {status} {body[:300]!r}", s.log)
        return body

    def client_credentials(c):
        ok(*lt.request(c, "POST", "/oauth/token", "grant_type=client_credentials&scope=api",
                       {**form, "Authorization": lt.basic(fx.cc)})[::2], "client_credentials")

    def simplejwt_verify(c):
        ok(*lt.request(c, "POST", "/api/token/verify/", json.dumps({"token": access}),
                       {"Content-Type": lt.JSON})[::2], "verify")

    def simplejwt_refresh(c):
        body = ok(*lt.request(c, "POST", "/api/token/refresh/",
                              json.dumps({"refresh": state["simplejwt"]}),
                              {"Content-Type": lt.JSON})[::2], "simplejwt refresh")
        state["simplejwt"] = json.loads(body)["refresh"]

    def oauth_refresh(c):
        body = ok(*lt.request(c, "POST", "/oauth/token", lt.urlencode({
            "grant_type": "refresh_token", "refresh_token": state["oauth"]}),
            {**form, "Authorization": lt.basic(fx.ac)})[::2], "oauth refresh")
        state["oauth"] = json.loads(body)["refresh_token"]

    def hello(c):
        ok(*lt.request(c, "GET", "/hello/", None, {"Authorization": "Bearer " + access})[::2],
           "/hello/")

    def jwks(c):
        ok(*lt.request(c, "GET", "/.well-known/jwks.json")[::2], "jwks")

    # Each path and its RSA operations per request: (signatures, verifications).
    paths = {"client_credentials": (client_credentials, (1, 0)),
             "simplejwt_verify": (simplejwt_verify, (0, 1)),
             "simplejwt_refresh": (simplejwt_refresh, (2, 1)),
             "oauth_refresh": (oauth_refresh, (2, 0)),
             "hello": (hello, (0, 1)),
             "jwks": (jwks, (0, 0))}
    c = lt.conn(s.port)
    pid = str(s.proc.pid)
    control = lambda *args: subprocess.run(["callgrind_control", *args, pid],
                                           capture_output=True, check=True)
    done = []
    for name, (send, _) in paths.items():
        if PATHS and name not in PATHS:
            continue
        for _ in range(10):
            send(c)
        control("-i", "on")
        for _ in range(5):
            send(c)
        control("-z")
        for _ in range(N):
            send(c)
        control("-d", name)
        control("-i", "off")
        done.append(name)
    s.stop()

    for name in done:
        total, rsa = counts(out, name)
        sigs, verifies = paths[name][1]
        print(f"{BACKEND:8} {name:19} {total / N / 1e3:8.0f}k instructions/request,"
              f" {rsa / N / 1e3:7.0f}k in {sigs} RSA signature(s) and {verifies} verification(s),"
              f" {(total - rsa) / N / 1e3:5.0f}k beyond", flush=True)


def counts(out, name):
    """The dump's total and the inclusive count of RSA signing and verifying."""
    for path in sorted(p for p in os.listdir(os.path.dirname(out))
                       if p.startswith(os.path.basename(out))):
        path = os.path.join(os.path.dirname(out), path)
        with open(path, errors="replace") as f:
            text = f.read()
        if f"desc: Trigger: dump {name}\n" not in text:
            continue
        total = int(re.search(r"^summary:\s*(\d+)", text, re.M).group(1))
        annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                                    path], capture_output=True, text=True, check=True).stdout
        rsa = sum(max((int(m.group(1).replace(",", "")) for m in
                       re.finditer(rf"^\s*([\d,]+)\s.*\baws_lc_\w*_RSA_{op}\b", annotated, re.M)),
                      default=0) for op in ("sign", "verify"))
        return total, rsa
    lt.die(f"no callgrind dump for {name}")


if __name__ == "__main__":
    main()
