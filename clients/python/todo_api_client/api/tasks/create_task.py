from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_task import CreateTask
from ...models.problem import Problem
from ...models.task import Task
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: int,
    *,
    body: CreateTask,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/{user_id}/tasks".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json; charset=utf-8"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | Task | None:
    if response.status_code == 201:
        response_201 = Task.from_dict(response.json())

        return response_201

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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
) -> Response[Problem | Task]:
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
    body: CreateTask,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | Task]:
    """Create a task. An account holds at most `MAX_TASKS_PER_USER` tasks (default 10 000):
    beyond that, 409.

    Args:
        user_id (int):
        idempotency_key (str | Unset): 1 to 255 visible ASCII characters, like a UUID:
            0b6f3c1e-8d0a-4e57-9a8c-3f6b1d2e7a90
        body (CreateTask): A new task. Only `title` is required; `priority` defaults to `Medium`,
            `completed` to
            `false`. Example: {'completed': False, 'description': 'The ones on the balcony',
            'due_date': '2026-12-01', 'priority': 'High', 'recursion_pattern': 'weekly', 'tags':
            'home,garden', 'title': 'Water the plants'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Task]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: CreateTask,
    idempotency_key: str | Unset = UNSET,
) -> Problem | Task | None:
    """Create a task. An account holds at most `MAX_TASKS_PER_USER` tasks (default 10 000):
    beyond that, 409.

    Args:
        user_id (int):
        idempotency_key (str | Unset): 1 to 255 visible ASCII characters, like a UUID:
            0b6f3c1e-8d0a-4e57-9a8c-3f6b1d2e7a90
        body (CreateTask): A new task. Only `title` is required; `priority` defaults to `Medium`,
            `completed` to
            `false`. Example: {'completed': False, 'description': 'The ones on the balcony',
            'due_date': '2026-12-01', 'priority': 'High', 'recursion_pattern': 'weekly', 'tags':
            'home,garden', 'title': 'Water the plants'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Task
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: CreateTask,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | Task]:
    """Create a task. An account holds at most `MAX_TASKS_PER_USER` tasks (default 10 000):
    beyond that, 409.

    Args:
        user_id (int):
        idempotency_key (str | Unset): 1 to 255 visible ASCII characters, like a UUID:
            0b6f3c1e-8d0a-4e57-9a8c-3f6b1d2e7a90
        body (CreateTask): A new task. Only `title` is required; `priority` defaults to `Medium`,
            `completed` to
            `false`. Example: {'completed': False, 'description': 'The ones on the balcony',
            'due_date': '2026-12-01', 'priority': 'High', 'recursion_pattern': 'weekly', 'tags':
            'home,garden', 'title': 'Water the plants'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Task]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: CreateTask,
    idempotency_key: str | Unset = UNSET,
) -> Problem | Task | None:
    """Create a task. An account holds at most `MAX_TASKS_PER_USER` tasks (default 10 000):
    beyond that, 409.

    Args:
        user_id (int):
        idempotency_key (str | Unset): 1 to 255 visible ASCII characters, like a UUID:
            0b6f3c1e-8d0a-4e57-9a8c-3f6b1d2e7a90
        body (CreateTask): A new task. Only `title` is required; `priority` defaults to `Medium`,
            `completed` to
            `false`. Example: {'completed': False, 'description': 'The ones on the balcony',
            'due_date': '2026-12-01', 'priority': 'High', 'recursion_pattern': 'weekly', 'tags':
            'home,garden', 'title': 'Water the plants'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Task
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
