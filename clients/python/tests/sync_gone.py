"""A copy whose token the server no longer knows (older than the changes it keeps: 410 Gone),
against two live instances as in tests/sync_e2e.py: `TODO_API_URL` (A, writes) and
`TODO_API_URL_B` (B, the copy). Starts from the copy sync_e2e.py left in `SYNC_STATE`, after
the database dropped every change logged so far and one task was deleted behind the server's
back. Prints one line per step; the first failure ends it with a non-zero status.
"""

from __future__ import annotations

import json
import os
from typing import Any

from todo_api_client.api.tasks import create_task
from todo_api_client.models import CreateTask, Task
from todo_api_helpers import Replica, TaskEvent, authenticated, expect, log_in, sync, task_events, task_pages


def passed(what: str) -> None:
    print(f"ok - {what}", flush=True)


def equal(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


base_a = os.environ["TODO_API_URL"].rstrip("/")
base_b = os.environ["TODO_API_URL_B"].rstrip("/")
with open(os.environ["SYNC_STATE"]) as saved_file:
    saved: dict[str, Any] = json.load(saved_file)
a = authenticated(base_a, log_in(base_a, saved["email"], saved["password"]).access_token)
b = authenticated(base_b, log_in(base_b, saved["email"], saved["password"]).access_token)
user_id: int = saved["user_id"]


def restore() -> Replica:
    tasks = [Task.from_dict(task) for task in saved["tasks"]]
    return Replica({task.id: task for task in tasks}, saved["token"])


def as_dicts(tasks: list[Task]) -> list[dict[str, Any]]:
    return [task.to_dict() for task in sorted(tasks, key=lambda task: task.id)]


def server_list() -> list[dict[str, Any]]:
    return as_dicts([task for page in task_pages(a, user_id) for task in page.tasks])


# 1. sync with the stale token: 410, then a full sync replaces the copy.
pulled = restore()
expected = server_list()
if len(expected) >= len(pulled.tasks):
    raise AssertionError("a task was deleted behind the server's back")
result = sync(b, user_id, pulled)
equal(result.full, True, "the stale token led to a full sync")
equal(as_dicts(list(pulled.tasks.values())), expected, "the copy")
kept = {task["id"] for task in expected}
equal(result.deleted, sorted(t["id"] for t in saved["tasks"] if t["id"] not in kept), "dropped")
passed(
    f"sync with a token older than the changes kept: 410, then a full sync; the dropped task is "
    f"gone ({result.deleted})"
)

# 2. task_events with the stale token: 410, a full sync, then live events.
streamed = restore()
events = task_events(b, user_id, streamed, retry=0.1)
seen: list[TaskEvent] = []
while not any(e.type == "ready" for e in seen):
    seen.append(next(events))
equal([e.result.full for e in seen if e.type == "sync" and e.result], [True], "syncs before the stream")
added = expect(create_task.sync_detailed(user_id, client=a, body=CreateTask(title="after the resync")), 201)
while added.id not in streamed.tasks:
    seen.append(next(events))
equal(as_dicts(list(streamed.tasks.values())), server_list(), "the copy")
events.close()
passed("task_events with a token older than the changes kept: 410, a full sync, then live events again")
