from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.changes import Changes
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: int,
    *,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["since"] = since

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/{user_id}/tasks/changes".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Changes | Problem | None:
    if response.status_code == 200:
        response_200 = Changes.from_dict(response.json())

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
) -> Response[Changes | Problem]:
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
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Changes | Problem]:
    """What changed in the user's tasks since a token: without `since`, every task (in
    pages); with it, the tasks created or changed since (as they are now) and the ids
    deleted since. Keep the last page's `next` for the next call. A token older than
    the changes the server keeps (`SYNC_RETENTION`, default 30 days) is answered 410:
    start again without `since`.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Changes | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
        limit=limit,
        cursor=cursor,
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
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Changes | Problem | None:
    """What changed in the user's tasks since a token: without `since`, every task (in
    pages); with it, the tasks created or changed since (as they are now) and the ids
    deleted since. Keep the last page's `next` for the next call. A token older than
    the changes the server keeps (`SYNC_RETENTION`, default 30 days) is answered 410:
    start again without `since`.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Changes | Problem
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        since=since,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Changes | Problem]:
    """What changed in the user's tasks since a token: without `since`, every task (in
    pages); with it, the tasks created or changed since (as they are now) and the ids
    deleted since. Keep the last page's `next` for the next call. A token older than
    the changes the server keeps (`SYNC_RETENTION`, default 30 days) is answered 410:
    start again without `since`.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Changes | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: int,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Changes | Problem | None:
    """What changed in the user's tasks since a token: without `since`, every task (in
    pages); with it, the tasks created or changed since (as they are now) and the ids
    deleted since. Keep the last page's `next` for the next call. A token older than
    the changes the server keeps (`SYNC_RETENTION`, default 30 days) is answered 410:
    start again without `since`.

    Args:
        user_id (int):
        since (str | Unset): the `next` of an earlier answer from this route
        limit (int | Unset): a whole number from 1 to 500, like 50
        cursor (str | Unset): a cursor copied from the `Link: rel="next"` header of the previous
            page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Changes | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            since=since,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
