"""Stalled HTTP/2 (h2c, prior knowledge) clients against one server binary; 127.0.0.1 only,
bounded in count and time.

The same measurement as bench/stalled.py over HTTP/2. It needs the `h2` package from PyPI:
    python3 -m venv /tmp/h2venv && /tmp/h2venv/bin/pip install h2
    /tmp/h2venv/bin/python bench/stalled_h2.py "$PWD/target/release/todo-api" 2 200 run1
usage: PYTHON bench/stalled_h2.py BIN CONNS STREAMS LABEL
env:   WINDOW (s, default 40)  DISTINCT=1 (?limit=100+i per stream)  QUERY (same for all streams)
       READ=1 (default): keep reading frames to count them, never sending anything (no
              WINDOW_UPDATE, no ACK) after the handshake; READ=0: never read after the handshake
       INIT_WIN: SETTINGS_INITIAL_WINDOW_SIZE we announce (default: unchanged, 65535)
       EXTRA=K=V,...  server env
The client sends preface, SETTINGS, then all STREAMS request HEADERS at once (before it has
seen the server's SETTINGS, so the python h2 library does not hold back streams beyond the
server's MAX_CONCURRENT_STREAMS), then reads until the server's SETTINGS and ACKs them. That is
the handshake; afterwards nothing more is ever sent."""
import collections, json, os, select, socket, sys, time

from stalled_setup import Stage
import h2.config, h2.connection, h2.events, h2.settings

BIN, CONNS, STREAMS, LABEL = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
WINDOW = float(os.environ.get("WINDOW", "40"))
DISTINCT = os.environ.get("DISTINCT", "0") == "1"
READ = os.environ.get("READ", "1") == "1"
INIT_WIN = os.environ.get("INIT_WIN")
QUERY = os.environ.get("QUERY", "")
stage = Stage(BIN, f"h2_{LABEL}_{CONNS}x{STREAMS}")
port, aid, atok = stage.port, stage.aid, stage.atok
base_mem = stage.memory()
stats = collections.Counter()
status_codes = collections.Counter()
reset_codes = collections.Counter()
goaways = []
closed = {}          # conn index -> seconds after t0
conns, socks = [], []
t0 = time.monotonic()

def handle(i, data):
    try:
        events = conns[i].receive_data(data)
    except Exception as e:
        stats["h2_client_error"] += 1; goaways.append((i, "client-side error: " + repr(e))); return
    conns[i].clear_outbound_data_buffer()   # never send anything the library queued (ACKs, WINDOW_UPDATEs)
    for ev in events:
        if isinstance(ev, h2.events.ResponseReceived):
            stats["responses"] += 1; status_codes[dict(ev.headers).get(b":status", b"?").decode()] += 1
        elif isinstance(ev, h2.events.DataReceived):
            stats["data_bytes"] += ev.flow_controlled_length
        elif isinstance(ev, h2.events.StreamEnded):
            stats["streams_ended"] += 1
        elif isinstance(ev, h2.events.StreamReset):
            stats["rst_stream"] += 1; reset_codes[str(getattr(ev.error_code, "name", ev.error_code))] += 1
        elif isinstance(ev, h2.events.ConnectionTerminated):
            goaways.append((i, round(time.monotonic() - t0, 2), str(getattr(ev.error_code, "name", ev.error_code)), ev.last_stream_id))
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                if k == h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: stats["server_max_concurrent_streams"] = v.new_value

g = 0
for i in range(CONNS):
    c = socket.create_connection(("127.0.0.1", port)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    h = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding=None))
    if INIT_WIN is not None:
        h.local_settings = h2.settings.Settings(client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: int(INIT_WIN)})
    h.initiate_connection()
    for k in range(STREAMS):
        q = f"?limit={100 + g}" if DISTINCT else QUERY
        g += 1
        sid = h.get_next_available_stream_id()
        h.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                             (":path", f"/api/{aid}/tasks{q}"), ("authorization", "Bearer " + atok)], end_stream=True)
    c.sendall(h.data_to_send())
    conns.append(h); socks.append(c)
# handshake: read until the server's SETTINGS, ACK them (only them)
for i, c in enumerate(socks):
    c.settimeout(5)
    buf_events_seen = False
    while not buf_events_seen:
        data = c.recv(65536)
        if not data: closed[i] = time.monotonic() - t0; break
        events = conns[i].receive_data(data)
        out = conns[i].data_to_send()   # only SETTINGS ACK at this point (no DATA acknowledged)
        c.sendall(out)
        for ev in events:
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                buf_events_seen = True
                for k, v in ev.changed_settings.items():
                    if k == h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: stats["server_max_concurrent_streams"] = v.new_value
            elif isinstance(ev, h2.events.ResponseReceived):
                stats["responses"] += 1; status_codes[dict(ev.headers).get(b":status", b"?").decode()] += 1
            elif isinstance(ev, h2.events.DataReceived):
                stats["data_bytes"] += ev.flow_controlled_length
            elif isinstance(ev, h2.events.StreamReset):
                stats["rst_stream"] += 1; reset_codes[str(getattr(ev.error_code, "name", ev.error_code))] += 1
            elif isinstance(ev, h2.events.ConnectionTerminated):
                goaways.append((i, round(time.monotonic() - t0, 2), str(getattr(ev.error_code, "name", ev.error_code)), ev.last_stream_id))
    c.setblocking(False)
opened = time.monotonic() - t0

poller = select.poll()
mask = select.POLLERR | select.POLLHUP | select.POLLRDHUP | (select.POLLIN if READ else 0)
fd_index = {c.fileno(): i for i, c in enumerate(socks)}
for i, c in enumerate(socks):
    if i not in closed: poller.register(c.fileno(), mask)
other = None
while time.monotonic() - t0 < WINDOW and len(closed) < CONNS:
    for fd, ev in poller.poll(200):
        i = fd_index[fd]
        if i in closed: continue
        if READ and ev & select.POLLIN:
            try:
                data = socks[i].recv(1 << 20)
            except (ConnectionResetError, BlockingIOError) as e:
                data = b"" if isinstance(e, ConnectionResetError) else None
                if data == b"": stats["conn_reset_by_server"] += 1
            if data:
                handle(i, data); continue
            if data is None: continue
            closed[i] = time.monotonic() - t0; poller.unregister(fd); continue
        if ev & (select.POLLERR | select.POLLHUP | select.POLLRDHUP):
            if READ:   # drain what is left before marking closed
                try:
                    while True:
                        data = socks[i].recv(1 << 20)
                        if not data: break
                        handle(i, data)
                except (BlockingIOError, ConnectionResetError, OSError): pass
            closed[i] = time.monotonic() - t0; poller.unregister(fd)
    for i, c in enumerate(socks):
        if i not in closed and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            closed[i] = time.monotonic() - t0; poller.unregister(c.fileno())
    if other is None and time.monotonic() - t0 > 3:
        other = stage.bobs_list()
mem = stage.memory()
alive = stage.srv.poll() is None
print(json.dumps({"binary": LABEL, "conns": CONNS, "streams_per_conn": STREAMS, "distinct": DISTINCT, "query": QUERY,
    "read_frames": READ, "init_win": INIT_WIN, "extra": os.environ.get("EXTRA", ""),
    "baseline_rss_mb": base_mem["VmRSS"], "peak_rss_mb": mem["VmHWM"], "rss_end_mb": mem["VmRSS"], "server_alive": alive,
    "requests_sent_in_s": round(opened, 2),
    "closed": len(closed), "close_s": sorted(round(v, 1) for v in closed.values()),
    "still_open_at_s": None if len(closed) == CONNS else round(time.monotonic() - t0, 1),
    "other_user_list": other, "frames": dict(stats), "statuses": dict(status_codes), "resets": dict(reset_codes),
    "goaway": goaways}))
for c in socks: c.close()
stage.stop()
