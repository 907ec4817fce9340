#!/usr/bin/env python3
"""One user's slow searches against another user's simple reads.

Against a running server (BASE, default http://127.0.0.1:8001) and its database
(DATABASE_URL, for seeding with psql): registers alice and bob, gives alice 100 000 tasks,
then fires 30 concurrent searches by alice (`q` matching nothing, the worst case) while bob
lists his tasks one request after another; prints both sides' latencies and statuses.

    bench/fairness.py            (SEARCHES=30, TASKS=100000)
"""

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

BASE = os.environ.get("BASE", "http://127.0.0.1:8001")
DATABASE_URL = os.environ["DATABASE_URL"]
SEARCHES = int(os.environ.get("SEARCHES", "30"))
TASKS = int(os.environ.get("TASKS", "100000"))


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    return status, payload, time.perf_counter() - started


def user(name):
    suffix = uuid.uuid4().hex[:8]
    email = f"{name}{suffix}@example.com"
    password = "password-of-" + name
    call("POST", "/api/auth/register", {"username": name + suffix, "email": email, "password": password})
    _, payload, _ = call("POST", "/api/auth/login", {"email": email, "password": password})
    login = json.loads(payload)
    return login["user"]["id"], login["access_token"]


def seed(user_id):
    sql = (
        "INSERT INTO task (user_id, title, description) "
        f"SELECT {int(user_id)}, 'task ' || i || ' ' || md5(i::text), "
        "md5((i * 7)::text) || ' ' || md5((i * 13)::text) "
        f"FROM generate_series(1, {TASKS}) i; ANALYZE task;"
    )
    subprocess.run(["psql", "-q", DATABASE_URL, "-c", sql], check=True)


def summary(label, results):
    times = sorted(t for _, t in results)
    statuses = {}
    for s, _ in results:
        statuses[s] = statuses.get(s, 0) + 1
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
    print(
        f"{label}: n={len(times)} statuses={statuses} "
        f"p50={pick(0.5):.0f}ms p95={pick(0.95):.0f}ms max={times[-1] * 1000:.0f}ms"
    )


def main():
    alice, alice_token = user("alice")
    bob, bob_token = user("bob")
    call("POST", f"/api/{bob}/tasks", {"title": "bob's only task"}, bob_token)
    seed(alice)
    search = f"/api/{alice}/tasks?q=nothing-matches-this&limit=50"
    status, _, took = call("GET", search, token=alice_token)
    print(f"one search alone: {status} in {took * 1000:.0f}ms")

    done = threading.Event()
    bob_results = []

    def bob_reads():
        while not done.is_set():
            status, _, took = call("GET", f"/api/{bob}/tasks", token=bob_token)
            bob_results.append((status, took))

    reader = threading.Thread(target=bob_reads)
    reader.start()
    with ThreadPoolExecutor(SEARCHES) as pool:
        searches = list(
            pool.map(lambda _: call("GET", search, token=alice_token)[::2], range(SEARCHES))
        )
    done.set()
    reader.join()
    summary(f"alice, {SEARCHES} concurrent searches", searches)
    summary("bob, list while they run", bob_results)


if __name__ == "__main__":
    main()
