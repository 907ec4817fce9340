"""Keeping a local copy of a user's tasks in step with the server: `sync` pulls what changed
since the last pull (`GET …/tasks/changes`), `task_events` applies changes as the server
streams them (`GET …/tasks/events`, Server-Sent Events) and resumes where it left off.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import httpx

from todo_api_client import AuthenticatedClient
from todo_api_client.models import Problem, Task
from todo_api_client.types import Response
from todo_api_helpers.errors import ProblemError, Unauthorized
from todo_api_helpers.sse import SseParser

__all__ = ["Replica", "SyncResult", "TaskEvent", "next_link", "retry_after", "sync", "task_events"]

_LINK_PART = re.compile(r'^\s*<([^>]*)>\s*;(?:.*;)?\s*rel="?next"?\s*(?:;.*)?$')


def next_link(response: Response[Any] | httpx.Response) -> str | None:
    """The URL of a response's `Link: <…>; rel="next"`, or None on the last page."""
    link = response.headers.get("link")
    if not link:
        return None
    for part in link.split(","):
        match = _LINK_PART.match(part)
        if match:
            return match.group(1)
    return None


@dataclass
class Replica:
    """The local copy: the user's tasks by id, and where the next pull or stream resumes."""

    tasks: dict[int, Task] = field(default_factory=dict)
    #: The server's token for "everything up to here"; None before the first sync.
    token: str | None = None


@dataclass(frozen=True)
class SyncResult:
    """What one `sync` did to the replica."""

    #: The replica was replaced whole: the first sync, or a token the server no longer knows.
    full: bool
    #: Tasks created or changed (all of them after a full sync).
    changed: list[Task]
    #: Ids removed.
    deleted: list[int]


def _problem_error(response: httpx.Response) -> ProblemError:
    problem: Problem | None = None
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = Problem.from_dict(body)
    except (ValueError, KeyError, TypeError):
        pass
    wrapped = Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=problem,
    )
    error = Unauthorized if response.status_code == 401 else ProblemError
    return error(response.status_code, problem, wrapped)


def sync(client: AuthenticatedClient, user_id: int, replica: Replica) -> SyncResult:
    """Brings `replica` up to date.

    The first call (no token) fetches every task, page after page along `Link`, and replaces
    the replica's contents; later calls fetch only what changed since its token. A token older
    than the server keeps deletions for (410 Gone) starts over with a full sync. Raises
    `Unauthorized` for a 401 (after `on_unauthorized`, when the client has one) and
    `ProblemError` for any other error answer.
    """
    if replica.token is not None:
        try:
            return _pull(client, user_id, replica, replica.token)
        except ProblemError as error:
            if error.status != 410:
                raise
    return _pull(client, user_id, replica, None)


def _pull(client: AuthenticatedClient, user_id: int, replica: Replica, since: str | None) -> SyncResult:
    http = client.get_httpx_client()
    url: str = f"/api/{user_id}/tasks/changes"
    params: dict[str, str] | None = {"since": since} if since is not None else None
    changed: dict[int, Task] = {}
    deleted: set[int] = set()
    token: str | None = None
    while True:
        response = http.get(url, params=params)
        if response.status_code != 200:
            raise _problem_error(response)
        body = response.json()
        for task_id in body["deleted"]:
            changed.pop(task_id, None)
            deleted.add(task_id)
        for item in body["changed"]:
            task = Task.from_dict(item)
            deleted.discard(task.id)
            changed[task.id] = task
        token = body.get("next") or token
        link = next_link(response)
        if link is None:
            break
        url, params = str(response.url.join(link)), None
    full = since is None
    if full:
        # The pages together are the whole list: what the replica held before goes.
        deleted.update(task_id for task_id in replica.tasks if task_id not in changed)
        replica.tasks.clear()
    for task_id in deleted:
        replica.tasks.pop(task_id, None)
    replica.tasks.update(changed)
    if token is not None:
        replica.token = token
    return SyncResult(full, list(changed.values()), sorted(deleted))


@dataclass(frozen=True)
class TaskEvent:
    """One step of `task_events`, already applied to the replica.

    `type` is "sync" (the replica was filled or replaced by `sync`: `result` says how),
    "ready" (a stream opened), "changed" (`task`), "deleted" (`id`) or "end" (the server ended
    the stream: `reason` is "session_revoked", "session_expired" or "resync").
    """

    type: str
    task: Task | None = None
    id: int | None = None
    reason: str | None = None
    result: SyncResult | None = None
    #: The replica's token after this event.
    token: str | None = None


def retry_after(response: Response[Any] | httpx.Response) -> float | None:
    """`Retry-After` in seconds (seconds, or an HTTP date), when the response has one."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _apply(replica: Replica, event: str, data: str) -> TaskEvent | None:
    if event == "ready":
        return TaskEvent("ready")
    if event == "task.changed":
        task = Task.from_dict(json.loads(data))
        replica.tasks[task.id] = task
        return TaskEvent("changed", task=task)
    if event == "task.deleted":
        task_id = int(json.loads(data)["id"])
        replica.tasks.pop(task_id, None)
        return TaskEvent("deleted", id=task_id)
    if event == "end":
        return TaskEvent("end", reason=str(json.loads(data)["reason"]))
    return None


def task_events(
    client: AuthenticatedClient,
    user_id: int,
    replica: Replica,
    *,
    retry: float = 1.0,
    max_retry: float = 30.0,
    idle_timeout: float = 60.0,
    on_retry: Callable[[BaseException | None, float], None] | None = None,
) -> Generator[TaskEvent, None, None]:
    """The changes to a user's tasks as the server streams them, each applied to `replica`
    before it is yielded, without end: stop by leaving the loop (or `close()`).

    When the replica has no token yet it is filled by `sync` first (a "sync" event), so it
    starts complete. Each connection sends the replica's token as `Last-Event-ID`, so nothing
    between two connections is lost. The server ending a stream (whatever its reason: even
    "resync" resumes from the last id), a dropped connection or
    `idle_timeout` seconds without a byte (heartbeats included), a 429 or 503 (after their
    `Retry-After`) and a 5xx all lead to a new connection, after `retry` seconds doubling up to
    `max_retry` for failures in a row. A 401 goes through the client's `on_unauthorized` (see
    `authenticated`); one it cannot mend raises `Unauthorized`. A 410 Gone (the token is older
    than the changes the server keeps) replaces the replica by a full `sync`. Other errors
    raise `ProblemError`.
    """
    http = client.get_httpx_client()
    timeout = httpx.Timeout(10.0, read=idle_timeout)
    delay = retry

    def failed(error: BaseException | None, wait: float | None) -> None:
        nonlocal delay
        pause = wait if wait is not None else delay
        delay = min(delay * 2, max_retry)
        if on_retry is not None:
            on_retry(error, pause)
        time.sleep(pause)

    while True:
        if replica.token is None:
            try:
                result = sync(client, user_id, replica)
            except ProblemError as error:
                if error.status != 429 and error.status < 500:
                    raise
                failed(error, retry_after(error.response))
                continue
            except httpx.TransportError as error:
                failed(error, None)
                continue
            yield TaskEvent("sync", result=result, token=replica.token)
        headers = {"Last-Event-ID": replica.token} if replica.token is not None else {}
        ended = False
        try:
            with http.stream(
                "GET", f"/api/{user_id}/tasks/events", headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    response.read()
                    if response.status_code == 410:
                        replica.token = None
                        continue
                    problem = _problem_error(response)
                    if problem.status != 429 and problem.status < 500:
                        raise problem
                    failed(problem, retry_after(response))
                    continue
                parser = SseParser(replica.token or "")
                for piece in response.iter_text():
                    for sse in parser.push(piece):
                        event = _apply(replica, sse.event, sse.data)
                        if sse.has_id:
                            replica.token = sse.last_event_id
                        if event is None:
                            continue
                        delay = retry
                        if event.type == "end":
                            ended = True
                        yield TaskEvent(event.type, event.task, event.id, event.reason, token=replica.token)
                        if ended:
                            break
                    if ended:
                        break
        except httpx.TransportError as error:
            failed(error, None)
            continue
        if not ended:
            # A stream that ended without saying why is a dropped connection.
            failed(None, None)
