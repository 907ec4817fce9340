from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.probe import Probe
from ...models.problem import Problem
from ...models.readiness import Readiness
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    probe: Probe | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_probe: str | Unset = UNSET
    if not isinstance(probe, Unset):
        json_probe = probe.value

    params["probe"] = json_probe

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/health/ready",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | Readiness | None:
    if response.status_code == 200:
        response_200 = Readiness.from_dict(response.json())

        return response_200

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Readiness.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | Readiness]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    probe: Probe | Unset = UNSET,
) -> Response[Problem | Readiness]:
    """Readiness: the last known state of the database, the pool and the schema.

     By default it costs the database nothing: it reports what requests and the pool last
    met, so probing an idle server lets Neon suspend its compute. `?probe=live` runs one
    cheap query first (one transaction), at most once per second for all callers.

    Args:
        probe (Probe | Unset): How `/health/ready` learns the state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Readiness]
    """

    kwargs = _get_kwargs(
        probe=probe,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    probe: Probe | Unset = UNSET,
) -> Problem | Readiness | None:
    """Readiness: the last known state of the database, the pool and the schema.

     By default it costs the database nothing: it reports what requests and the pool last
    met, so probing an idle server lets Neon suspend its compute. `?probe=live` runs one
    cheap query first (one transaction), at most once per second for all callers.

    Args:
        probe (Probe | Unset): How `/health/ready` learns the state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Readiness
    """

    return sync_detailed(
        client=client,
        probe=probe,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    probe: Probe | Unset = UNSET,
) -> Response[Problem | Readiness]:
    """Readiness: the last known state of the database, the pool and the schema.

     By default it costs the database nothing: it reports what requests and the pool last
    met, so probing an idle server lets Neon suspend its compute. `?probe=live` runs one
    cheap query first (one transaction), at most once per second for all callers.

    Args:
        probe (Probe | Unset): How `/health/ready` learns the state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Readiness]
    """

    kwargs = _get_kwargs(
        probe=probe,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    probe: Probe | Unset = UNSET,
) -> Problem | Readiness | None:
    """Readiness: the last known state of the database, the pool and the schema.

     By default it costs the database nothing: it reports what requests and the pool last
    met, so probing an idle server lets Neon suspend its compute. `?probe=live` runs one
    cheap query first (one transaction), at most once per second for all callers.

    Args:
        probe (Probe | Unset): How `/health/ready` learns the state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Readiness
    """

    return (
        await asyncio_detailed(
            client=client,
            probe=probe,
        )
    ).parsed
