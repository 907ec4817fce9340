from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.list_tasks_order import ListTasksOrder
from ...models.list_tasks_priority import ListTasksPriority
from ...models.list_tasks_sort import ListTasksSort
from ...models.problem import Problem
from ...models.task import Task
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: int,
    *,
    completed: bool | Unset = UNSET,
    priority: ListTasksPriority | Unset = UNSET,
    tag: str | Unset = UNSET,
    q: str | Unset = UNSET,
    due_before: str | Unset = UNSET,
    due_after: str | Unset = UNSET,
    sort: ListTasksSort | Unset = UNSET,
    order: ListTasksOrder | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
    prefer: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    if not isinstance(prefer, Unset):
        headers["Prefer"] = prefer

    params: dict[str, Any] = {}

    params["completed"] = completed

    json_priority: str | Unset = UNSET
    if not isinstance(priority, Unset):
        json_priority = priority.value

    params["priority"] = json_priority

    params["tag"] = tag

    params["q"] = q

    params["due_before"] = due_before

    params["due_after"] = due_after

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    json_order: str | Unset = UNSET
    if not isinstance(order, Unset):
        json_order = order.value

    params["order"] = json_order

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/{user_id}/tasks".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | list[Task] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = Task.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

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

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

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
) -> Response[Any | Problem | list[Task]]:
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
    completed: bool | Unset = UNSET,
    priority: ListTasksPriority | Unset = UNSET,
    tag: str | Unset = UNSET,
    q: str | Unset = UNSET,
    due_before: str | Unset = UNSET,
    due_after: str | Unset = UNSET,
    sort: ListTasksSort | Unset = UNSET,
    order: ListTasksOrder | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
    prefer: str | Unset = UNSET,
) -> Response[Any | Problem | list[Task]]:
    """List the user's tasks, newest first unless sorted otherwise, one page at a time.

    Args:
        user_id (int):
        completed (bool | Unset): true or false
        priority (ListTasksPriority | Unset): one of High, Medium or Low, like Medium
        tag (str | Unset): one tag of at most 50 characters, like work
        q (str | Unset): text of at most 200 characters, like milk
        due_before (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        due_after (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        sort (ListTasksSort | Unset): one of created_at, updated_at, due_date, priority or title,
            like due_date
        order (ListTasksOrder | Unset): asc or desc, like asc
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page
        if_none_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3",
            as sent in an `ETag` header
        prefer (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | list[Task]]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        completed=completed,
        priority=priority,
        tag=tag,
        q=q,
        due_before=due_before,
        due_after=due_after,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
        prefer=prefer,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: int,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    priority: ListTasksPriority | Unset = UNSET,
    tag: str | Unset = UNSET,
    q: str | Unset = UNSET,
    due_before: str | Unset = UNSET,
    due_after: str | Unset = UNSET,
    sort: ListTasksSort | Unset = UNSET,
    order: ListTasksOrder | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
    prefer: str | Unset = UNSET,
) -> Any | Problem | list[Task] | None:
    """List the user's tasks, newest first unless sorted otherwise, one page at a time.

    Args:
        user_id (int):
        completed (bool | Unset): true or false
        priority (ListTasksPriority | Unset): one of High, Medium or Low, like Medium
        tag (str | Unset): one tag of at most 50 characters, like work
        q (str | Unset): text of at most 200 characters, like milk
        due_before (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        due_after (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        sort (ListTasksSort | Unset): one of created_at, updated_at, due_date, priority or title,
            like due_date
        order (ListTasksOrder | Unset): asc or desc, like asc
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page
        if_none_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3",
            as sent in an `ETag` header
        prefer (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | list[Task]
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        completed=completed,
        priority=priority,
        tag=tag,
        q=q,
        due_before=due_before,
        due_after=due_after,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
        prefer=prefer,
    ).parsed


async def asyncio_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    priority: ListTasksPriority | Unset = UNSET,
    tag: str | Unset = UNSET,
    q: str | Unset = UNSET,
    due_before: str | Unset = UNSET,
    due_after: str | Unset = UNSET,
    sort: ListTasksSort | Unset = UNSET,
    order: ListTasksOrder | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
    prefer: str | Unset = UNSET,
) -> Response[Any | Problem | list[Task]]:
    """List the user's tasks, newest first unless sorted otherwise, one page at a time.

    Args:
        user_id (int):
        completed (bool | Unset): true or false
        priority (ListTasksPriority | Unset): one of High, Medium or Low, like Medium
        tag (str | Unset): one tag of at most 50 characters, like work
        q (str | Unset): text of at most 200 characters, like milk
        due_before (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        due_after (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        sort (ListTasksSort | Unset): one of created_at, updated_at, due_date, priority or title,
            like due_date
        order (ListTasksOrder | Unset): asc or desc, like asc
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page
        if_none_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3",
            as sent in an `ETag` header
        prefer (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | list[Task]]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        completed=completed,
        priority=priority,
        tag=tag,
        q=q,
        due_before=due_before,
        due_after=due_after,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
        prefer=prefer,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: int,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    priority: ListTasksPriority | Unset = UNSET,
    tag: str | Unset = UNSET,
    q: str | Unset = UNSET,
    due_before: str | Unset = UNSET,
    due_after: str | Unset = UNSET,
    sort: ListTasksSort | Unset = UNSET,
    order: ListTasksOrder | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
    prefer: str | Unset = UNSET,
) -> Any | Problem | list[Task] | None:
    """List the user's tasks, newest first unless sorted otherwise, one page at a time.

    Args:
        user_id (int):
        completed (bool | Unset): true or false
        priority (ListTasksPriority | Unset): one of High, Medium or Low, like Medium
        tag (str | Unset): one tag of at most 50 characters, like work
        q (str | Unset): text of at most 200 characters, like milk
        due_before (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        due_after (str | Unset): a date like 2026-12-01 or a date-time with a time zone like
            2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)
        sort (ListTasksSort | Unset): one of created_at, updated_at, due_date, priority or title,
            like due_date
        order (ListTasksOrder | Unset): asc or desc, like asc
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page
        if_none_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3",
            as sent in an `ETag` header
        prefer (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | list[Task]
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            completed=completed,
            priority=priority,
            tag=tag,
            q=q,
            due_before=due_before,
            due_after=due_after,
            sort=sort,
            order=order,
            limit=limit,
            cursor=cursor,
            if_none_match=if_none_match,
            prefer=prefer,
        )
    ).parsed
