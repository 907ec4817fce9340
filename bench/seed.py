"""Seeds the benchmark through the public API: 50 users with 50 tasks each (read by the
list, get and toggle scenarios) and 10 writer users (the create scenario writes to them, so
the lists being measured keep their size). Writes one line per user for the wrk scripts:
`role user_id token task_id,task_id,...`."""

import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BASE = sys.argv[1]
OUT = sys.argv[2]
READERS, WRITERS, TASKS = 50, 10, 50


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as response:
        return json.loads(response.read() or b"null")


def user(name):
    email = f"{name}@bench.example"
    call("POST", "/api/auth/register", {"username": name, "email": email, "password": "bench-password"})
    login = call("POST", "/api/auth/login", {"email": email, "password": "bench-password"})
    return login["user"]["id"], login["access_token"]


def reader(i):
    uid, token = user(f"reader{i}")
    ids = []
    for n in range(TASKS):
        task = call(
            "POST",
            f"/api/{uid}/tasks",
            {"title": f"Task {n} of reader {i}", "priority": ["High", "Medium", "Low"][n % 3],
             "tags": "bench,home" if n % 2 else "bench,work", "due_date": f"2026-12-{n % 28 + 1:02d}"},
            token,
        )
        ids.append(str(task["id"]))
    return f"reader {uid} {token} {','.join(ids)}"


def writer(i):
    uid, token = user(f"writer{i}")
    return f"writer {uid} {token} -"


with ThreadPoolExecutor(8) as pool:
    lines = list(pool.map(reader, range(READERS))) + list(pool.map(writer, range(WRITERS)))
with open(OUT, "w") as out:
    out.write("\n".join(lines) + "\n")
print(f"seeded {READERS} users x {TASKS} tasks and {WRITERS} writers", file=sys.stderr)
