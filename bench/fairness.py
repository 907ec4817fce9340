#!/usr/bin/env python3
"""Attacks on the per-user share, against another user's simple reads.

Against a running server on this machine (BASE, default http://127.0.0.1:8001; only
127.0.0.1 is accepted) and its database (DATABASE_URL, for seeding with psql): registers the
victim bob and the attacker(s), then runs the attack chosen by ATTACK while bob lists his
tasks one request after another, and prints bob's latencies and statuses and the attack's
statuses.

    ATTACK=slow-search     (default) alice, with TASKS tasks, sends SEARCHES concurrent
                           searches on her own path
    ATTACK=encoded-path    the same searches on `/api/%3X%3Y/tasks`: every digit of alice's
                           id percent-encoded
    ATTACK=revoked-token   mallory logs out, then sends FLOOD concurrent lists of bob's
                           path (`/api/{bob}/tasks`) with the revoked token
    ATTACK=many-accounts   ACCOUNTS attackers, each with TASKS tasks, each sending PER_ACCOUNT
                           concurrent searches on its own path

A search looks for two letters that none of the seeded tasks has (their titles and
descriptions are `task`, digits and hex): too short for the trigram indexes, so each search
reads every task of its user (three or more characters are answered from the indexes in
milliseconds). No two searches of a run are the same request (the pair of letters, their
case and `limit` change), so none is answered from a list kept from before.

Every attack worker sends one request after another until DURATION seconds (default 20)
have passed, and always at least one: DURATION=0 is one round of concurrent requests. At
most 60 attack requests are in flight. Before the attack, bob lists alone for QUIET seconds
(default 3). With OUT=FILE, the figures are written there too, as one JSON object.

    bench/fairness.py      (TASKS=100000, SEARCHES=30, FLOOD=50, ACCOUNTS=5, PER_ACCOUNT=6)
"""

import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

ATTACKS = ("slow-search", "encoded-path", "revoked-token", "many-accounts")
MAX_IN_FLIGHT = 60

BASE = os.environ.get("BASE", "http://127.0.0.1:8001")
DATABASE_URL = os.environ["DATABASE_URL"]
ATTACK = os.environ.get("ATTACK", "slow-search")
DURATION = float(os.environ.get("DURATION", "20"))
QUIET = float(os.environ.get("QUIET", "3"))
TASKS = int(os.environ.get("TASKS", "100000"))
SEARCHES = int(os.environ.get("SEARCHES", "30"))
FLOOD = int(os.environ.get("FLOOD", "50"))
ACCOUNTS = int(os.environ.get("ACCOUNTS", "5"))
PER_ACCOUNT = int(os.environ.get("PER_ACCOUNT", "6"))
OUT = os.environ.get("OUT")
LETTERS = "ghijlmnopqruvwxyz"
PAIRS = [a + b for a in LETTERS + LETTERS.upper() for b in LETTERS + LETTERS.upper()]
SEARCH = "{search}"  # in a path: replaced by a new search for each request


def call(method, path, body=None, token=None):
    """One request: (status, payload, seconds). A connection error counts as status 0."""
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
    except OSError:
        status, payload = 0, b""
    return status, payload, time.perf_counter() - started


def user(name):
    suffix = uuid.uuid4().hex[:8]
    email = f"{name}{suffix}@example.com"
    password = "password-of-" + name
    status, payload, _ = call(
        "POST", "/api/auth/register", {"username": name + suffix, "email": email, "password": password}
    )
    if status != 201:
        sys.exit(f"fairness.py: registering {name} answered {status}: {payload[:200]!r}")
    status, payload, _ = call("POST", "/api/auth/login", {"email": email, "password": password})
    if status != 200:
        sys.exit(f"fairness.py: logging in {name} answered {status}: {payload[:200]!r}")
    login = json.loads(payload)
    return login["user"]["id"], login["access_token"]


def seed(user_ids):
    """TASKS tasks for each of the users, written by psql (past the API's per-user limit)."""
    ids = ",".join(str(int(u)) for u in user_ids)
    sql = (
        "INSERT INTO task (user_id, title, description) "
        "SELECT u, 'task ' || i || ' ' || md5(i::text), "
        "md5((i * 7)::text) || ' ' || md5((i * 13)::text) "
        f"FROM unnest(ARRAY[{ids}]) u, generate_series(1, {TASKS}) i; ANALYZE task;"
    )
    subprocess.run(["psql", "-q", DATABASE_URL, "-c", sql], check=True)


def search(n):
    """The n-th search's query string: 100 limits, then the next pair of letters."""
    return "?" + urllib.parse.urlencode({"q": PAIRS[n // 100 % len(PAIRS)], "limit": 1 + n % 100})


def encoded(user_id):
    return "".join(f"%{ord(c):02X}" for c in str(user_id))


def attackers(bob):
    """The attack's workers: a list of (path, token), one per concurrent request."""
    if ATTACK in ("slow-search", "encoded-path"):
        alice, token = user("alice")
        seed([alice])
        path_id = encoded(alice) if ATTACK == "encoded-path" else str(alice)
        return [(f"/api/{path_id}/tasks{SEARCH}", token)] * SEARCHES
    if ATTACK == "revoked-token":
        _, token = user("mallory")
        status, _, _ = call("POST", "/api/auth/logout", token=token)
        print(f"mallory logged out: {status}")
        return [(f"/api/{bob}/tasks", token)] * FLOOD
    accounts = [user(f"attacker{n}") for n in range(ACCOUNTS)]
    seed([a for a, _ in accounts])
    return [(f"/api/{a}/tasks{SEARCH}", t) for a, t in accounts for _ in range(PER_ACCOUNT)]


def attack(workers, deadline, conn):
    """In a process of its own (the victim's timing shares no interpreter lock with it):
    each worker sends its request again and again until the deadline; sends back the
    statuses counted and the latencies."""
    searches = itertools.count(1)

    def worker(w):
        path, token = w
        out = []
        while True:
            status, _, took = call("GET", path.replace(SEARCH, search(next(searches))), token=token)
            out.append((status, took))
            if time.monotonic() >= deadline:
                return out
    with ThreadPoolExecutor(len(workers)) as pool:
        results = [r for rs in pool.map(worker, workers) for r in rs]
    conn.send(results)
    conn.close()


def figures(results):
    times = sorted(t for _, t in results)
    statuses = {}
    for s, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000 if times else 0
    return {
        "n": len(times),
        "p50_ms": round(pick(0.5), 1),
        "p95_ms": round(pick(0.95), 1),
        "p99_ms": round(pick(0.99), 1),
        "max_ms": round(times[-1] * 1000, 1) if times else 0,
        "statuses": dict(sorted(statuses.items())),
        "n503": statuses.get("503", 0),
    }


def show(label, f):
    print(
        f"{label}: n={f['n']} statuses={f['statuses']} p50={f['p50_ms']:.0f}ms "
        f"p95={f['p95_ms']:.0f}ms p99={f['p99_ms']:.0f}ms max={f['max_ms']:.0f}ms"
    )


def main():
    if ATTACK not in ATTACKS:
        sys.exit(f"fairness.py: ATTACK={ATTACK}: choose one of {', '.join(ATTACKS)}")
    if urllib.parse.urlsplit(BASE).hostname != "127.0.0.1":
        sys.exit(f"fairness.py: BASE={BASE}: only a server on 127.0.0.1 is attacked")
    bob, bob_token = user("bob")
    call("POST", f"/api/{bob}/tasks", {"title": "bob's only task"}, bob_token)
    workers = attackers(bob)
    if len(workers) > MAX_IN_FLIGHT:
        sys.exit(f"fairness.py: {len(workers)} concurrent attack requests, at most {MAX_IN_FLIGHT}")
    status, _, took = call("GET", workers[0][0].replace(SEARCH, search(0)), token=workers[0][1])
    print(f"{ATTACK}: one attack request alone: {status} in {took * 1000:.0f}ms")

    def bob_reads(until):
        out = []
        while not until():
            status, _, took = call("GET", f"/api/{bob}/tasks", token=bob_token)
            out.append((status, took))
        return out

    quiet_end = time.monotonic() + QUIET
    alone = figures(bob_reads(lambda: time.monotonic() >= quiet_end))

    receive, send = multiprocessing.Pipe(duplex=False)
    started = time.monotonic()
    attacker = multiprocessing.get_context("fork").Process(
        target=attack, args=(workers, started + DURATION, send)
    )
    attacker.start()
    send.close()
    # bob reads for as long as the attack runs; the attack's results arrive when it ends.
    box = {"results": []}

    def receive_results():
        try:
            box["results"] = receive.recv()
        except EOFError:  # the attack process died: its figures are empty
            pass

    receiver = threading.Thread(target=receive_results)
    receiver.start()
    during = figures(bob_reads(lambda: not receiver.is_alive()))
    receiver.join()
    attacker.join()
    elapsed = time.monotonic() - started
    hit = figures(box["results"])

    print(f"{ATTACK}: {len(workers)} concurrent attack requests for {elapsed:.1f}s")
    show("attack", hit)
    show("bob alone", alone)
    show("bob during the attack", during)
    if OUT:
        with open(OUT, "w") as f:
            json.dump({"attack": ATTACK, "in_flight": len(workers), "seconds": round(elapsed, 1),
                       "attacker": hit, "victim_alone": alone, "victim": during}, f)


if __name__ == "__main__":
    main()
