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
        {'latency_ms': 1.8, 'pool': {'idle': 1, 'in_use': 1, 'max': 10, 'size': 2}, 'reachable': True, 'server_version':
            '17.5'}

    Attributes:
        reachable (bool): Whether a query succeeded within the readiness bound.
        latency_ms (float | None): Round trip of a trivial query, in milliseconds; `null` when unreachable.
        server_version (None | str): PostgreSQL's `server_version`; `null` when unreachable.
        pool (PoolHealth): The connection pool of this instance. Example: {'idle': 1, 'in_use': 1, 'max': 10, 'size':
            2}.
    """

    reachable: bool
    latency_ms: float | None
    server_version: None | str
    pool: PoolHealth
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        reachable = self.reachable

        latency_ms: float | None
        latency_ms = self.latency_ms

        server_version: None | str
        server_version = self.server_version

        pool = self.pool.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "reachable": reachable,
                "latency_ms": latency_ms,
                "server_version": server_version,
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

        pool = PoolHealth.from_dict(d.pop("pool"))

        database_health = cls(
            reachable=reachable,
            latency_ms=latency_ms,
            server_version=server_version,
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
