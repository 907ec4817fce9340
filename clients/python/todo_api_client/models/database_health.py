from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.pool_health import PoolHealth


T = TypeVar("T", bound="DatabaseHealth")


@_attrs_define
class DatabaseHealth:
    """The database as this instance sees it.

    Example:
        {'cause': None, 'detail': None, 'latency_ms': 1.8, 'pool': {'idle': 1, 'in_use': 1, 'max': 10, 'size': 2},
            'reachable': True, 'server_version': '17'}

    Attributes:
        reachable (bool): Whether the last contact with the database succeeded.
        latency_ms (float | None): Round trip of the last probe (at startup, or `?probe=live`), in milliseconds; `null`
            when unreachable.
        server_version (None | str): PostgreSQL's major version; `null` when unreachable. (The exact build is in
            `todo-api check` and the metrics.)
        cause (None | str): Why the last contact failed, e.g. `starting`, `too_many_connections`,
            `credentials_refused`; `null` when it succeeded.
        detail (None | str): The cause in a sentence; `null` when the last contact succeeded.
        pool (PoolHealth): The connection pool of this instance. Example: {'idle': 1, 'in_use': 1, 'max': 10, 'size':
            2}.
    """

    reachable: bool
    latency_ms: float | None
    server_version: None | str
    cause: None | str
    detail: None | str
    pool: PoolHealth
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        reachable = self.reachable

        latency_ms: float | None
        latency_ms = self.latency_ms

        server_version: None | str
        server_version = self.server_version

        cause: None | str
        cause = self.cause

        detail: None | str
        detail = self.detail

        pool = self.pool.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "reachable": reachable,
                "latency_ms": latency_ms,
                "server_version": server_version,
                "cause": cause,
                "detail": detail,
                "pool": pool,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.pool_health import PoolHealth

        d = dict(src_dict)
        reachable = d.pop("reachable")

        def _parse_latency_ms(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        latency_ms = _parse_latency_ms(d.pop("latency_ms"))

        def _parse_server_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        server_version = _parse_server_version(d.pop("server_version"))

        def _parse_cause(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        cause = _parse_cause(d.pop("cause"))

        def _parse_detail(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        detail = _parse_detail(d.pop("detail"))

        pool = PoolHealth.from_dict(d.pop("pool"))

        database_health = cls(
            reachable=reachable,
            latency_ms=latency_ms,
            server_version=server_version,
            cause=cause,
            detail=detail,
            pool=pool,
        )

        database_health.additional_properties = d
        return database_health

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
