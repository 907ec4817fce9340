from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.complete_task import CompleteTask
from ...models.problem import Problem
from ...models.task import Task
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: int,
    id: int,
    *,
    body: CompleteTask | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/api/{user_id}/tasks/{id}/complete".format(
            user_id=quote(str(user_id), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json; charset=utf-8"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | Task | None:
    if response.status_code == 200:
        response_200 = Task.from_dict(response.json())

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

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

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
    id: int,
    *,
    client: AuthenticatedClient,
    body: CompleteTask | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Response[Problem | Task]:
    """Complete a task: without a body it toggles `completed`; `{"completed": …}` sets it.
    Completing a recurring task creates its next occurrence, once.

    Args:
        user_id (int):
        id (int):
        if_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3", as
            sent in an `ETag` header
        body (CompleteTask | Unset): Sets completion explicitly; without a body the operation
            toggles it. Example: {'completed': True}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Task]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        id=id,
        body=body,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: int,
    id: int,
    *,
    client: AuthenticatedClient,
    body: CompleteTask | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Problem | Task | None:
    """Complete a task: without a body it toggles `completed`; `{"completed": …}` sets it.
    Completing a recurring task creates its next occurrence, once.

    Args:
        user_id (int):
        id (int):
        if_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3", as
            sent in an `ETag` header
        body (CompleteTask | Unset): Sets completion explicitly; without a body the operation
            toggles it. Example: {'completed': True}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Task
    """

    return sync_detailed(
        user_id=user_id,
        id=id,
        client=client,
        body=body,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    user_id: int,
    id: int,
    *,
    client: AuthenticatedClient,
    body: CompleteTask | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Response[Problem | Task]:
    """Complete a task: without a body it toggles `completed`; `{"completed": …}` sets it.
    Completing a recurring task creates its next occurrence, once.

    Args:
        user_id (int):
        id (int):
        if_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3", as
            sent in an `ETag` header
        body (CompleteTask | Unset): Sets completion explicitly; without a body the operation
            toggles it. Example: {'completed': True}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Task]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        id=id,
        body=body,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: int,
    id: int,
    *,
    client: AuthenticatedClient,
    body: CompleteTask | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Problem | Task | None:
    """Complete a task: without a body it toggles `completed`; `{"completed": …}` sets it.
    Completing a recurring task creates its next occurrence, once.

    Args:
        user_id (int):
        id (int):
        if_match (str | Unset): `*` or a comma-separated list of quoted ETags, like "12-3", as
            sent in an `ETag` header
        body (CompleteTask | Unset): Sets completion explicitly; without a body the operation
            toggles it. Example: {'completed': True}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Task
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            id=id,
            client=client,
            body=body,
            if_match=if_match,
        )
    ).parsed
