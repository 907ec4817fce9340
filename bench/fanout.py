"""The event streams under load, against two running instances on one database (127.0.0.1
only). Standard library only: raw HTTP/1.1 over asyncio.

    BASE_A=http://127.0.0.1:PORT BASE_B=… PID_A=… PID_B=… SIGNUP=http://… \
        DATABASE_URL=postgres://…/db python3 bench/fanout.py

1. Signs up USERS accounts (default 200) through SIGNUP (a third instance on the same
   database; default BASE_A) and opens PER_USER streams for each (default 5, below the
   per-user cap of 8): USERS × PER_USER streams (1 000), alternately on A and B.
2. Each instance's resident memory (VmRSS, once it holds still) before the streams and with
   them all open and idle: (after − before) / streams on that instance; and the second half
   of the streams alone, (after − with half of them) / the streams added, which leaves out
   what the first streams cost once (the pool's connections, the listener's).
3. WRITES creates (default 400), one every INTERVAL_MS (default 20), alternately through A and
   B, each for the next account in turn: the latency of each `changed` event on each of that
   account's streams, measured from the moment the create's 201 had been read (the answer
   comes after the commit, so this is a little after the commit: an event may even arrive
   first, which counts as 0) and from the moment the request was sent (an upper bound).
4. With the streams closed: an account with DELTA_TASKS tasks (default 10 000, inserted by SQL)
   syncs fully once, then DELTA_ROUNDS times (default 100) changes one task and asks what
   changed since its token: the latency of that request, and the statements it ran
   (pg_stat_statements, in the database's own counters) for a few of them.

Prints the figures on stdout (and all of them as JSON into the file OUT, when set); progress
on stderr.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

BASE_A = os.environ["BASE_A"]
BASE_B = os.environ["BASE_B"]
# Where the accounts sign up: password hashing leaves memory behind (argon2id, 19 MiB each,
# given back late), so not on the instances whose memory is measured.
SIGNUP = os.environ.get("SIGNUP", BASE_A)
PIDS = {"A": int(os.environ["PID_A"]), "B": int(os.environ["PID_B"])}
DATABASE_URL = os.environ["DATABASE_URL"]
USERS = int(os.environ.get("USERS", "200"))
PER_USER = int(os.environ.get("PER_USER", "5"))
WRITES = int(os.environ.get("WRITES", "400"))
INTERVAL = int(os.environ.get("INTERVAL_MS", "20")) / 1000
DELTA_TASKS = int(os.environ.get("DELTA_TASKS", "10000"))
DELTA_ROUNDS = int(os.environ.get("DELTA_ROUNDS", "100"))
PASSWORD = "bench-password"


def log(*what):
    print(*what, file=sys.stderr, flush=True)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def settled_rss():
    """Each instance's VmRSS once it holds still (within 256 KiB for 3 s, at most 30 s)."""
    last, still = None, 0
    for _ in range(60):
        now = {name: rss_kb(pid) for name, pid in PIDS.items()}
        if last is not None and all(abs(now[n] - last[n]) <= 256 for n in PIDS):
            still += 1
            if still == 6:
                break
        else:
            still = 0
        last = now
        await asyncio.sleep(0.5)
    return last


def psql(sql):
    out = subprocess.run(["psql", DATABASE_URL, "-AtqX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


class Connection:
    """One keep-alive HTTP/1.1 connection for plain requests (no pipelining)."""

    def __init__(self, base):
        self.url = urllib.parse.urlsplit(base)
        self.reader = self.writer = None

    async def request(self, method, path, body=None, token=None, headers=()):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.url.netloc}", f"Content-Length: {len(payload)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"Authorization: Bearer {token}")
        head.extend(headers)
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status, response_headers = await read_head(self.reader)
        if response_headers.get("transfer-encoding") == "chunked":
            content = b"".join([chunk async for chunk in chunks(self.reader)])
        else:
            content = await self.reader.readexactly(int(response_headers.get("content-length", "0")))
        return status, response_headers, content


async def read_head(reader):
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def chunks(reader):
    """The chunks of a chunked body, until its last."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        yield chunk


async def expect(connection, status, method, path, body=None, token=None, headers=()):
    got, response_headers, content = await connection.request(method, path, body, token, headers)
    if got != status:
        raise RuntimeError(f"{method} {path}: {got} {content[:300]!r}")
    return response_headers, (json.loads(content) if content else None)


async def account(base, name):
    connection = Connection(base)
    email = f"{name}@bench.example"
    body = {"username": name, "email": email, "password": PASSWORD}
    await expect(connection, 201, "POST", "/api/auth/register", body)
    _, login = await expect(connection, 200, "POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    connection.writer.close()
    return login["user"]["id"], login["access_token"]


class Stream:
    """One open event stream: the arrival time of each `changed` event, by task title."""

    def __init__(self, base, instance, user_id, token):
        self.url = urllib.parse.urlsplit(base)
        self.instance, self.user_id, self.token = instance, user_id, token
        self.arrivals = {}
        self.ready = asyncio.get_running_loop().create_future()
        self.task = None

    async def run(self):
        reader, writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        writer.write((f"GET /api/{self.user_id}/tasks/events HTTP/1.1\r\nHost: {self.url.netloc}\r\n"
                      f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n").encode())
        try:
            status, headers = await read_head(reader)
            if status != 200:
                raise RuntimeError(f"stream: {status}")
            buffer = b""
            async for chunk in chunks(reader):
                now = time.monotonic()
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    event, data = "message", []
                    for line in block.decode().split("\n"):
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].removeprefix(" "))
                    if event == "ready" and not self.ready.done():
                        self.ready.set_result(None)
                    elif event == "task.changed":
                        self.arrivals.setdefault(json.loads("\n".join(data))["title"], now)
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            raise
        finally:
            writer.close()


async def fanout():
    log(f"fanout: signing up {USERS} accounts...")
    semaphore = asyncio.Semaphore(4)

    async def one(i):
        async with semaphore:
            return await account(SIGNUP, f"fan{i}")

    users = await asyncio.gather(*(one(i) for i in range(USERS)))
    rss_before = await settled_rss()
    streams = []
    log(f"fanout: opening {USERS * PER_USER} streams...")
    for i, (user_id, token) in enumerate(users):
        for j in range(PER_USER):
            name = "A" if (i + j) % 2 == 0 else "B"
            stream = Stream(BASE_A if name == "A" else BASE_B, name, user_id, token)
            stream.task = asyncio.create_task(stream.run())
            streams.append(stream)
        if i % 20 == 19:
            await asyncio.gather(*(s.ready for s in streams))
        if i == USERS // 2 - 1:
            rss_half = await settled_rss()
            half = {name: sum(1 for s in streams if s.instance == name) for name in PIDS}
    await asyncio.gather(*(s.ready for s in streams))
    rss_after = await settled_rss()  # idle: every stream open, nothing sent
    per_instance = {name: sum(1 for s in streams if s.instance == name) for name in PIDS}

    log(f"fanout: {WRITES} writes, one every {INTERVAL * 1000:.0f} ms...")
    writers = {"A": Connection(BASE_A), "B": Connection(BASE_B)}
    writes = []
    for k in range(WRITES):
        user_id, token = users[k % USERS]
        through = "A" if k % 2 == 0 else "B"
        title = f"fanout write {k}"
        sent = time.monotonic()
        await expect(writers[through], 201, "POST", f"/api/{user_id}/tasks", {"title": title}, token)
        writes.append((title, user_id, sent, time.monotonic()))
        await asyncio.sleep(INTERVAL)
    deadline = time.monotonic() + 10
    by_user = {}
    for s in streams:
        by_user.setdefault(s.user_id, []).append(s)
    while time.monotonic() < deadline:
        if all(title in s.arrivals for title, user_id, _, _ in writes for s in by_user[user_id]):
            break
        await asyncio.sleep(0.1)
    after_commit, after_sent, missing = [], [], 0
    for title, user_id, sent, committed in writes:
        for s in by_user[user_id]:
            arrived = s.arrivals.get(title)
            if arrived is None:
                missing += 1
                continue
            after_commit.append(max(0.0, arrived - committed) * 1000)
            after_sent.append((arrived - sent) * 1000)
    for s in streams:
        s.task.cancel()
    await asyncio.gather(*(s.task for s in streams), return_exceptions=True)
    for connection in writers.values():
        connection.writer.close()
    return {
        "streams": len(streams),
        "streams_per_instance": per_instance,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "bytes_per_stream": {
            name: round((rss_after[name] - rss_before[name]) * 1024 / per_instance[name]) for name in PIDS
        },
        "rss_half_kb": rss_half,
        "marginal_bytes_per_stream": {
            name: round((rss_after[name] - rss_half[name]) * 1024 / (per_instance[name] - half[name]))
            for name in PIDS
        },
        "writes": WRITES,
        "deliveries": len(after_commit),
        "missing": missing,
        "after_201_ms": {"p50": percentile(after_commit, 50), "p99": percentile(after_commit, 99),
                         "max": max(after_commit)},
        "after_sent_ms": {"p50": percentile(after_sent, 50), "p99": percentile(after_sent, 99),
                          "max": max(after_sent)},
    }


async def delta():
    log(f"delta: an account with {DELTA_TASKS} tasks...")
    user_id, token = await account(SIGNUP, "delta")
    psql(f"INSERT INTO task (user_id, title, priority, created_at) "
         f"SELECT {user_id}, 'delta ' || g, 'Low', timezone('utc', now()) - make_interval(secs => g) "
         f"FROM generate_series(1, {DELTA_TASKS}) AS g")
    psql("VACUUM ANALYZE task")
    connection = Connection(BASE_B)
    writer = Connection(BASE_A)
    started = time.monotonic()
    path, pages, ids, token_ = f"/api/{user_id}/tasks/changes", 0, [], None
    while path:
        headers, body = await expect(connection, 200, "GET", path, token=token)
        pages += 1
        ids.extend(task["id"] for task in body["changed"])
        token_ = body.get("next") or token_
        link = headers.get("link", "")
        path = link[link.index("<") + 1:link.index(">")] if 'rel="next"' in link else None
    full_ms = (time.monotonic() - started) * 1000
    if len(ids) != DELTA_TASKS:
        raise RuntimeError(f"the full sync gave {len(ids)} tasks")
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    latencies, statements, sizes = [], [], []
    for r in range(DELTA_ROUNDS):
        task_id = ids[(r * 7919) % len(ids)]
        await expect(writer, 200, "PATCH", f"/api/{user_id}/tasks/{task_id}/complete", token=token)
        counted = r < 5
        if counted:
            psql("SELECT pg_stat_statements_reset()")
        query = urllib.parse.urlencode({"since": token_})
        started = time.monotonic()
        status, _, content = await connection.request("GET", f"/api/{user_id}/tasks/changes?{query}", token=token)
        latencies.append((time.monotonic() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"delta: {status} {content[:200]!r}")
        if counted:
            rows = psql("SELECT calls || ' ' || regexp_replace(left(query, 70), '\\s+', ' ', 'g') "
                        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'")
            statements.append([row for row in rows.splitlines() if row])
        body = json.loads(content)
        if [t["id"] for t in body["changed"]] != [task_id] or body["deleted"]:
            raise RuntimeError(f"delta: expected task {task_id} alone, got {content[:200]!r}")
        sizes.append(len(content))
        token_ = body["next"]
    connection.writer.close()
    writer.writer.close()
    return {
        "tasks": DELTA_TASKS,
        "full_sync_ms": full_ms,
        "full_sync_pages": pages,
        "rounds": DELTA_ROUNDS,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "body_bytes": statistics.median(sizes),
        "statements": [sum(int(row.split(" ", 1)[0]) for row in rows) for rows in statements],
        "statement_texts": statements[0] if statements else [],
    }


def report(f, d):
    a, s = f["after_201_ms"], f["after_sent_ms"]
    counts = f["streams_per_instance"]
    print(f"event streams: {f['streams']} open across two instances ({counts['A']} + {counts['B']}), "
          f"{f['writes']} writes")
    for name in PIDS:
        before, after = f["rss_before_kb"][name] / 1024, f["rss_after_kb"][name] / 1024
        print(f"  instance {name}: RSS {before:.1f} MiB before, {after:.1f} MiB with its streams: "
              f"{f['bytes_per_stream'][name] / 1024:.1f} KiB per open idle stream; the second half "
              f"alone: {f['marginal_bytes_per_stream'][name] / 1024:.1f} KiB each")
    print(f"  delivery: {f['deliveries']} events, {f['missing']} missing; after the 201: p50 {a['p50']:.1f} ms, "
          f"p99 {a['p99']:.1f} ms, max {a['max']:.1f} ms; after the request was sent: p50 {s['p50']:.1f} ms, "
          f"p99 {s['p99']:.1f} ms")
    print(f"delta of 1 change among {d['tasks']} tasks: p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms "
          f"over {d['rounds']} rounds, {d['body_bytes']:.0f} bytes; statements per delta: {d['statements']}")
    for row in d["statement_texts"]:
        print(f"  calls, statement: {row}")
    print(f"full sync of {d['tasks']} tasks: {d['full_sync_pages']} pages, {d['full_sync_ms']:.0f} ms")


async def main():
    result = {"fanout": await fanout(), "delta": await delta()}
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "w") as out:
            json.dump(result, out, indent=1)
    report(result["fanout"], result["delta"])


asyncio.run(main())
