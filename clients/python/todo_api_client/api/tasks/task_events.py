from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: int,
    *,
    since: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    params: dict[str, Any] = {}

    params["since"] = since

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/{user_id}/tasks/events".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | str | None:
    if response.status_code == 200:
        response_200 = response.text
        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 410:
        response_410 = Problem.from_dict(response.json())

        return response_410

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Response[Problem | str]:
    """Live changes as Server-Sent Events (`text/event-stream`). The stream starts at the
    `Last-Event-ID` header (or `since`, the same token), else at "now":

     - `event: ready`, `id: TOKEN` (where the stream starts), `data: {}` comes first;
    - `event: task.changed`, `data:` the task as it is now; `event: task.deleted`,
    `data: {"id": N}`.
    Changes read together form a batch, and only the last event of a batch carries
    `id: TOKEN`: a client that reconnects with its last id gets any batch it saw only
    part of again, never less;
    - `: keep-alive` comments every `SSE_HEARTBEAT` (default 15 s) on a quiet stream;
    - `event: end`, `data: {"reason": "session_revoked" | "session_expired" | "resync"}`
    before the server ends the stream: reconnect with the last id (log in again on 401).

    At most `SSE_MAX_PER_USER` streams per user (429) and `SSE_MAX_STREAMS` per instance
    (503), both with `Retry-After`. A token older than the changes kept is answered 410.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        last_event_id (str | Unset): the `next` of an earlier answer from this route

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: int,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Problem | str | None:
    """Live changes as Server-Sent Events (`text/event-stream`). The stream starts at the
    `Last-Event-ID` header (or `since`, the same token), else at "now":

     - `event: ready`, `id: TOKEN` (where the stream starts), `data: {}` comes first;
    - `event: task.changed`, `data:` the task as it is now; `event: task.deleted`,
    `data: {"id": N}`.
    Changes read together form a batch, and only the last event of a batch carries
    `id: TOKEN`: a client that reconnects with its last id gets any batch it saw only
    part of again, never less;
    - `: keep-alive` comments every `SSE_HEARTBEAT` (default 15 s) on a quiet stream;
    - `event: end`, `data: {"reason": "session_revoked" | "session_expired" | "resync"}`
    before the server ends the stream: reconnect with the last id (log in again on 401).

    At most `SSE_MAX_PER_USER` streams per user (429) and `SSE_MAX_STREAMS` per instance
    (503), both with `Retry-After`. A token older than the changes kept is answered 410.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        last_event_id (str | Unset): the `next` of an earlier answer from this route

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        since=since,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Response[Problem | str]:
    """Live changes as Server-Sent Events (`text/event-stream`). The stream starts at the
    `Last-Event-ID` header (or `since`, the same token), else at "now":

     - `event: ready`, `id: TOKEN` (where the stream starts), `data: {}` comes first;
    - `event: task.changed`, `data:` the task as it is now; `event: task.deleted`,
    `data: {"id": N}`.
    Changes read together form a batch, and only the last event of a batch carries
    `id: TOKEN`: a client that reconnects with its last id gets any batch it saw only
    part of again, never less;
    - `: keep-alive` comments every `SSE_HEARTBEAT` (default 15 s) on a quiet stream;
    - `event: end`, `data: {"reason": "session_revoked" | "session_expired" | "resync"}`
    before the server ends the stream: reconnect with the last id (log in again on 401).

    At most `SSE_MAX_PER_USER` streams per user (429) and `SSE_MAX_STREAMS` per instance
    (503), both with `Retry-After`. A token older than the changes kept is answered 410.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        last_event_id (str | Unset): the `next` of an earlier answer from this route

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: int,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    last_event_id: str | Unset = UNSET,
) -> Problem | str | None:
    """Live changes as Server-Sent Events (`text/event-stream`). The stream starts at the
    `Last-Event-ID` header (or `since`, the same token), else at "now":

     - `event: ready`, `id: TOKEN` (where the stream starts), `data: {}` comes first;
    - `event: task.changed`, `data:` the task as it is now; `event: task.deleted`,
    `data: {"id": N}`.
    Changes read together form a batch, and only the last event of a batch carries
    `id: TOKEN`: a client that reconnects with its last id gets any batch it saw only
    part of again, never less;
    - `: keep-alive` comments every `SSE_HEARTBEAT` (default 15 s) on a quiet stream;
    - `event: end`, `data: {"reason": "session_revoked" | "session_expired" | "resync"}`
    before the server ends the stream: reconnect with the last id (log in again on 401).

    At most `SSE_MAX_PER_USER` streams per user (429) and `SSE_MAX_STREAMS` per instance
    (503), both with `Retry-After`. A token older than the changes kept is answered 410.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        last_event_id (str | Unset): the `next` of an earlier answer from this route

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            since=since,
            last_event_id=last_event_id,
        )
    ).parsed
