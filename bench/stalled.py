"""Clients that send a list request and never read the answer, against one server binary.

Starts BIN on a fresh database of the PostgreSQL at ADMIN_URL (default
postgres://postgres@127.0.0.1:5432), gives alice 500 tasks of 5 000 control characters (each
written as six bytes of JSON, so a whole list would be 15 MB) and bob one task, opens N
HTTP/1.1 sockets that send alice's list request and never read, lists bob's tasks 3 s in, and
prints one JSON line: the server's RSS before and its peak (VmHWM), when the server closed
the stalled sockets, and bob's list's status and seconds. 127.0.0.1 only; WINDOW seconds
(default 40) at most; the server is stopped and the database dropped afterwards.

    bench/stalled.py "$PWD/target/release/todo-api" 200 run1     (BIN: an absolute path)
    DISTINCT=1 bench/stalled.py ...   each socket asks for another page (?limit=100+i), so no
                                      two answers are one kept list
    EXTRA=HTTP_MAX_IN_FLIGHT=128 ...  settings for the server, comma-separated
"""
import json, os, select, socket, subprocess, sys, tempfile, time, urllib.request

BIN, N, LABEL = sys.argv[1], int(sys.argv[2]), sys.argv[3]
LOGS = tempfile.mkdtemp(prefix="todo-stalled-")
DISTINCT = os.environ.get("DISTINCT", "0") == "1"
WINDOW = float(os.environ.get("WINDOW", "40"))
PG = os.environ.get("ADMIN_URL", "postgres://postgres@127.0.0.1:5432")
db = f"send_measure_{LABEL}_{N}"
subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"], check=True)
subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
env = {"PATH": os.environ["PATH"], "DATABASE_URL": f"{PG}/{db}", "JWT_SECRET": "measure-secret-measure-secret-0123456789",
       "PORT": str(port), "METRICS_ADDR": "off", "RUST_LOG": "warn"}
for kv in filter(None, os.environ.get("EXTRA", "").split(",")):
    k, v = kv.split("="); env[k] = v
QUERY = os.environ.get("QUERY", "")
log = open(os.path.join(LOGS, f"{LABEL}_{N}.log"), "w")
srv = subprocess.Popen([BIN], env=env, stdout=log, stderr=log, cwd=LOGS)
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None, token=None, timeout=10):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token: req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

for _ in range(200):
    try:
        if call("GET", "/health/live", timeout=1)[0] == 200: break
    except Exception: pass
    time.sleep(0.1)

def user(name):
    call("POST", "/api/auth/register", {"username": name, "email": f"{name}@example.com", "password": "password-of-" + name})
    st, b = call("POST", "/api/auth/login", {"email": f"{name}@example.com", "password": "password-of-" + name})
    j = json.loads(b); return j["user"]["id"], j["access_token"]

aid, atok = user("alice"); bid, btok = user("bob")
call("POST", f"/api/{bid}/tasks", {"title": "light"}, btok)
subprocess.run(["psql", f"{PG}/{db}", "-qc",
    f"INSERT INTO task (user_id, title, description) SELECT {aid}, 'heavy ' || n, repeat(chr(1), 5000) FROM generate_series(1, 500) n"], check=True)

def hwm():
    out = {}
    for line in open(f"/proc/{srv.pid}/status"):
        k, v = line.split(":", 1)
        if k in ("VmHWM", "VmRSS"): out[k] = int(v.split()[0]) // 1024
    return out

base_mem = hwm()
def request(i):
    query = f"?limit={100 + i % 400}" if DISTINCT else QUERY
    return f"GET /api/{aid}/tasks{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {atok}\r\n\r\n".encode()
socks = []
t0 = time.monotonic()
for _ in range(N):
    c = socket.create_connection(("127.0.0.1", port)); c.sendall(request(len(socks))); socks.append(c)
opened = time.monotonic() - t0
closed = {}
poller = select.poll()
for i, c in enumerate(socks): poller.register(c.fileno(), select.POLLERR | select.POLLHUP | select.POLLRDHUP)
fd_index = {c.fileno(): i for i, c in enumerate(socks)}
other = None
while time.monotonic() - t0 < WINDOW and len(closed) < N:
    for fd, ev in poller.poll(200):
        i = fd_index[fd]
        if i not in closed:
            closed[i] = time.monotonic() - t0; poller.unregister(fd)
    for i, c in enumerate(socks):
        if i not in closed and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            closed[i] = time.monotonic() - t0; poller.unregister(c.fileno())
    if other is None and time.monotonic() - t0 > 3:
        t = time.monotonic()
        try: st = call("GET", f"/api/{bid}/tasks", token=btok, timeout=15)[0]
        except Exception as e: st = repr(e)
        other = (st, round(time.monotonic() - t, 2))
mem = hwm()
print(json.dumps({"binary": LABEL, "query": QUERY, "extra": os.environ.get("EXTRA", ""), "stalled": N, "baseline_rss_mb": base_mem["VmRSS"], "peak_rss_mb": mem["VmHWM"],
    "closed": len(closed), "still_open_at_s": None if len(closed) == N else round(time.monotonic() - t0, 1),
    "first_close_s": round(min(closed.values()), 1) if closed else None,
    "last_close_s": round(max(closed.values()), 1) if closed else None,
    "other_user_list": other}))
for c in socks: c.close()
srv.terminate(); srv.wait(timeout=30)
subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"])
