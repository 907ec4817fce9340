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
import json, os, select, socket, sys, time

from stalled_setup import Stage

BIN, N, LABEL = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DISTINCT = os.environ.get("DISTINCT", "0") == "1"
WINDOW = float(os.environ.get("WINDOW", "40"))
QUERY = os.environ.get("QUERY", "")
stage = Stage(BIN, f"{LABEL}_{N}")
port, aid, atok = stage.port, stage.aid, stage.atok
base_mem = stage.memory()
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
        other = stage.bobs_list()
mem = stage.memory()
print(json.dumps({"binary": LABEL, "query": QUERY, "extra": os.environ.get("EXTRA", ""), "stalled": N, "baseline_rss_mb": base_mem["VmRSS"], "peak_rss_mb": mem["VmHWM"],
    "closed": len(closed), "still_open_at_s": None if len(closed) == N else round(time.monotonic() - t0, 1),
    "first_close_s": round(min(closed.values()), 1) if closed else None,
    "last_close_s": round(max(closed.values()), 1) if closed else None,
    "other_user_list": other}))
for c in socks: c.close()
stage.stop()
