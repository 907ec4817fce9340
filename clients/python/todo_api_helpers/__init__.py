"""Conveniences over the generated `todo_api_client`: problem+json errors as exceptions, pages
followed through the `Link` cursor, a way to log in again when a token expires or is revoked,
and a local copy of the tasks kept in sync (`sync`, `task_events`). Everything here uses only
the generated package and httpx.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from todo_api_client import AuthenticatedClient, Client
from todo_api_client.api.accounts import login
from todo_api_client.api.tasks import list_tasks
from todo_api_client.models import LoginRequest, LoginResponse, Task
from todo_api_client.types import Response
from todo_api_helpers.errors import ProblemError, Unauthorized, expect
from todo_api_helpers.sse import SseEvent, SseParser, sse_events
from todo_api_helpers.sync import (
    Replica,
    SyncResult,
    TaskEvent,
    next_link,
    retry_after,
    sync,
    task_events,
)

__all__ = [
    "BearerAuth",
    "Page",
    "ProblemError",
    "Replica",
    "SseEvent",
    "SseParser",
    "SyncResult",
    "TaskEvent",
    "Unauthorized",
    "authenticated",
    "expect",
    "log_in",
    "next_cursor",
    "next_link",
    "retry_after",
    "sse_events",
    "sync",
    "task_events",
    "task_pages",
]


def next_cursor(response: Response[Any] | httpx.Response) -> str | None:
    """The `cursor` of a list response's `Link: <…>; rel="next"`, or None on the last page."""
    link = next_link(response)
    if link is None:
        return None
    cursors = parse_qs(urlsplit(link).query).get("cursor")
    return cursors[0] if cursors else None


@dataclass(frozen=True)
class Page:
    """One page of a task list."""

    tasks: list[Task]
    #: `X-Total-Count`: sent when the request said `Prefer: count=exact`, else None.
    total: int | None
    #: Where the next page starts; None on the last page.
    cursor: str | None
    response: Response[Any]


def task_pages(client: AuthenticatedClient, user_id: int, **query: Any) -> Iterator[Page]:
    """Every page of `GET /api/{user_id}/tasks` with `query` (filters, `sort`, `order`,
    `limit`), following the `Link` cursor until the last page.

    Each later page sends the same query with the cursor, as the `Link` URL does (the
    cursor holds the sort and where the page before ended, not the filters). For totals,
    create the client with `headers={"Prefer": "count=exact"}`.
    """
    cursor: str | None = None
    while True:
        if cursor is None:
            response = list_tasks.sync_detailed(user_id, client=client, **query)
        else:
            response = list_tasks.sync_detailed(user_id, client=client, cursor=cursor, **query)
        tasks = expect(response, 200)
        total = response.headers.get("x-total-count")
        cursor = next_cursor(response)
        yield Page(tasks, int(total) if total is not None else None, cursor, response)
        if cursor is None:
            return


class BearerAuth(httpx.Auth):
    """Sends `Authorization: Bearer <token>`. On a 401, calls `on_unauthorized` (which logs
    in again and returns the new token, or returns None to give up) and sends the request
    once more with the new token. Without `on_unauthorized` a 401 is simply returned.

    Threads that meet a 401 together call `on_unauthorized` once; a request sent with a token
    that has been replaced since is sent again with the new one.
    """

    requires_request_body = True

    def __init__(self, token: str, on_unauthorized: Callable[[], str | None] | None = None) -> None:
        self.token = token
        self.on_unauthorized = on_unauthorized
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent_with = self.token
        request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code != 401 or self.on_unauthorized is None:
            return
        with self._lock:
            if self.token == sent_with:
                token = self.on_unauthorized()
                if token is None:
                    return
                self.token = token
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def authenticated(
    base_url: str,
    token: str,
    *,
    on_unauthorized: Callable[[], str | None] | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> AuthenticatedClient:
    """A client whose requests carry `token`; see `BearerAuth` for `on_unauthorized`."""
    httpx_args = dict(kwargs.pop("httpx_args", {}))
    httpx_args["auth"] = BearerAuth(token, on_unauthorized)
    return AuthenticatedClient(
        base_url=base_url, token=token, headers=dict(headers or {}), httpx_args=httpx_args, **kwargs
    )


def log_in(base_url: str, email: str, password: str, **kwargs: Any) -> LoginResponse:
    """`POST /api/auth/login`: the access token, its expiry and the user.

    Raises `Unauthorized` for a wrong email or password, `ProblemError` otherwise (429 when
    too many attempts failed: wait `Retry-After` seconds).
    """
    with Client(base_url=base_url, **kwargs) as client:
        response = login.sync_detailed(client=client, body=LoginRequest(email=email, password=password))
        return expect(response, 200)
