"""`sync` and `task_events` against two live instances on one database: `TODO_API_URL` (A,
where the writes go) and `TODO_API_URL_B` (B, where the local copy is kept).

Every step asserts what it saw, then prints one line (`ok - …`) saying what it checked; the
first failure ends the script with a non-zero status.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator

from todo_api_client import AuthenticatedClient, Client
from todo_api_client.api.accounts import logout, register
from todo_api_client.api.tasks import complete_task, create_task, delete_task, update_task
from todo_api_client.models import CreateTask, RegisterRequest, Task, UpdateTask
from todo_api_helpers import (
    Replica,
    TaskEvent,
    authenticated,
    expect,
    log_in,
    sync,
    task_events,
    task_pages,
)


def passed(what: str) -> None:
    print(f"ok - {what}", flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def equal(actual: object, expected: object, what: str) -> None:
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


base_a = os.environ["TODO_API_URL"].rstrip("/")
base_b = os.environ["TODO_API_URL_B"].rstrip("/")
name = f"sync_{secrets.token_hex(4)}"
email = f"{name}@example.com"
password = "correct horse battery staple"
user = expect(
    register.sync_detailed(
        client=Client(base_url=base_a),
        body=RegisterRequest(username=name, email=email, password=password),
    ),
    201,
)

# The writer on A and the reader on B hold sessions of their own; B logs in again on a 401.
a = authenticated(base_a, log_in(base_a, email, password).access_token)
logins = 0


def log_in_again() -> str:
    global logins
    logins += 1
    return log_in(base_b, email, password).access_token


b = authenticated(base_b, log_in(base_b, email, password).access_token, on_unauthorized=log_in_again)


def create(title: str) -> Task:
    return expect(create_task.sync_detailed(user.id, client=a, body=CreateTask(title=title)), 201)


def rename(task_id: int, title: str) -> Task:
    return expect(update_task.sync_detailed(user.id, task_id, client=a, body=UpdateTask(title=title)), 200)


def complete(task_id: int) -> Task:
    return expect(complete_task.sync_detailed(user.id, task_id, client=a), 200)


def remove(task_id: int) -> None:
    expect(delete_task.sync_detailed(user.id, task_id, client=a), 204)


def as_dicts(tasks: list[Task]) -> list[dict[str, object]]:
    return [task.to_dict() for task in sorted(tasks, key=lambda task: task.id)]


def server_list(client: AuthenticatedClient) -> list[dict[str, object]]:
    return as_dicts([task for page in task_pages(client, user.id) for task in page.tasks])


def assert_mirrors(replica: Replica, what: str) -> None:
    equal(as_dicts(list(replica.tasks.values())), server_list(a), f"{what}: the local copy")


def until(events: Iterator[TaskEvent], seen: list[TaskEvent], done: Callable[[], bool]) -> None:
    """Reads events (each already applied to the replica) until `done` holds."""
    while not done():
        seen.append(next(events))


# 1. A first sync on B fetches everything.
first = [create(title) for title in ("one", "two", "three", "four")]
replica = Replica()
full = sync(b, user.id, replica)
check(full.full, "the first sync is full")
check(replica.token is not None, "a full sync leaves a token")
assert_mirrors(replica, "after the first sync")
passed(f"first sync on B: all {len(replica.tasks)} tasks created on A, and a token")

# 2. Changes through A, then a sync on B with the token: exactly what changed.
t1, t2, t3, _ = first
rename(t1.id, "one, renamed")
complete(t2.id)
remove(t3.id)
t5 = create("five")
delta = sync(b, user.id, replica)
check(not delta.full, "a sync with a token is a delta")
equal(sorted(task.id for task in delta.changed), sorted([t1.id, t2.id, t5.id]), "changed")
equal(delta.deleted, [t3.id], "deleted")
assert_mirrors(replica, "after the delta")
quiet = sync(b, user.id, replica)
equal((quiet.full, quiet.changed, quiet.deleted), (False, [], []), "a sync with nothing new")
passed(
    f"sync with the token after an update, a completion, a delete and a create on A: changed "
    f"{len(delta.changed)}, deleted {len(delta.deleted)}; the copy is the server's list"
)


def has(task_id: int, title: str | None = None) -> bool:
    task = replica.tasks.get(task_id)
    return task is not None and (title is None or task.title == title)


# 3. A stream on B sees what A writes.
seen: list[TaskEvent] = []
events = task_events(b, user.id, replica, retry=0.1)
until(events, seen, lambda: any(e.type == "ready" for e in seen))
t6 = create("six")
until(events, seen, lambda: has(t6.id))
rename(t6.id, "six, renamed")
until(events, seen, lambda: has(t6.id, "six, renamed"))
remove(t1.id)
until(events, seen, lambda: t1.id not in replica.tasks)
assert_mirrors(replica, "with the stream open")
passed(
    "a stream on B (task_events): a create, an update and a delete made on A arrive; the copy is "
    "the server's list"
)

# 4. Stopped, then resumed with the token: what happened meanwhile arrives.
events.close()
token_at_stop = replica.token
t7 = create("seven")
rename(t5.id, "five, renamed")
remove(t2.id)
events = task_events(b, user.id, replica, retry=0.1)
until(events, seen, lambda: has(t7.id) and has(t5.id, "five, renamed") and t2.id not in replica.tasks)
check(replica.token != token_at_stop, "the token moved on")
assert_mirrors(replica, "after resuming")
passed("stopped, three changes on A, events again: all three arrive through Last-Event-ID")

# 5. B's session revoked: the stream ends, the client logs in again and resumes.
seen.clear()
expect(logout.sync_detailed(client=b), 204)
t8 = create("eight, while B logs in again")


def reopened() -> bool:
    ends = [i for i, e in enumerate(seen) if e.type == "end"]
    return bool(ends) and any(e.type == "ready" for e in seen[ends[0] :])


until(events, seen, reopened)
equal([e.reason for e in seen if e.type == "end"], ["session_revoked"], "why the stream ended")
until(events, seen, lambda: has(t8.id))
equal(logins, 1, "new logins")
assert_mirrors(replica, "after logging in again")
events.close()
passed(
    "B's session revoked: the stream ends (session_revoked), on_unauthorized logs in once, and "
    "the task created meanwhile on A arrives"
)

# 6. The copy made by events equals one made by a fresh full sync.
fresh = Replica()
sync(b, user.id, fresh)
equal(as_dicts(list(replica.tasks.values())), as_dicts(list(fresh.tasks.values())), "fresh copy")
passed(f"the copy kept by events equals a fresh full sync: {len(fresh.tasks)} tasks")

# For tests/sync_gone.py: the copy as it stands, and how to log in again.
if os.environ.get("SYNC_STATE"):
    with open(os.environ["SYNC_STATE"], "w") as out:
        json.dump(
            {
                "email": email,
                "password": password,
                "user_id": user.id,
                "token": replica.token,
                "tasks": as_dicts(list(replica.tasks.values())),
            },
            out,
        )
