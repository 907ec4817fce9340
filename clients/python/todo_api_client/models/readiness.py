from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.ready_status import ReadyStatus

if TYPE_CHECKING:
    from ..models.database_health import DatabaseHealth
    from ..models.schema_health import SchemaHealth


T = TypeVar("T", bound="Readiness")


@_attrs_define
class Readiness:
    """Whether the server can serve requests, and why not.

    Example:
        {'age_seconds': 3.2, 'database': {'cause': None, 'detail': None, 'latency_ms': 1.8, 'pool': {'idle': 1,
            'in_use': 1, 'max': 10, 'size': 2}, 'reachable': True, 'server_version': '17'}, 'observed_at':
            '2026-11-18T11:06:40Z', 'schema': {'checked_at': '2026-11-18T11:06:40Z', 'expected_version': 6,
            'newer_migrations': [], 'ok': True, 'problems': [], 'version': 6}, 'shutting_down': False, 'status': 'ready'}

    Attributes:
        status (ReadyStatus):
        shutting_down (bool): A shutdown signal arrived: the server finishes what it has and stops accepting
            connections after `SHUTDOWN_GRACE`, so a load balancer should send it nothing new.
        observed_at (datetime.datetime): When the database was last heard from (a request, a new connection, or a live
            probe).
        age_seconds (float): Seconds since `observed_at`.
        database (DatabaseHealth): The database as this instance sees it. Example: {'cause': None, 'detail': None,
            'latency_ms': 1.8, 'pool': {'idle': 1, 'in_use': 1, 'max': 10, 'size': 2}, 'reachable': True, 'server_version':
            '17'}.
        schema (SchemaHealth): The schema check: migrations applied and structure as expected. Example: {'checked_at':
            '2026-11-18T11:06:40Z', 'expected_version': 6, 'newer_migrations': [], 'ok': True, 'problems': [], 'version':
            6}.
    """

    status: ReadyStatus
    shutting_down: bool
    observed_at: datetime.datetime
    age_seconds: float
    database: DatabaseHealth
    schema: SchemaHealth
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        shutting_down = self.shutting_down

        observed_at = self.observed_at.isoformat()

        age_seconds = self.age_seconds

        database = self.database.to_dict()

        schema = self.schema.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "shutting_down": shutting_down,
                "observed_at": observed_at,
                "age_seconds": age_seconds,
                "database": database,
                "schema": schema,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.database_health import DatabaseHealth
        from ..models.schema_health import SchemaHealth

        d = dict(src_dict)
        status = ReadyStatus(d.pop("status"))

        shutting_down = d.pop("shutting_down")

        observed_at = datetime.datetime.fromisoformat(d.pop("observed_at"))

        age_seconds = d.pop("age_seconds")

        database = DatabaseHealth.from_dict(d.pop("database"))

        schema = SchemaHealth.from_dict(d.pop("schema"))

        readiness = cls(
            status=status,
            shutting_down=shutting_down,
            observed_at=observed_at,
            age_seconds=age_seconds,
            database=database,
            schema=schema,
        )

        readiness.additional_properties = d
        return readiness

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
