from __future__ import annotations

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
        {'database': {'latency_ms': 1.8, 'pool': {'idle': 1, 'in_use': 1, 'max': 10, 'size': 2}, 'reachable': True,
            'server_version': '17.5'}, 'schema': {'expected_version': 6, 'ok': True, 'problems': [], 'version': 6},
            'status': 'ready'}

    Attributes:
        status (ReadyStatus):
        database (DatabaseHealth): The database as this instance sees it. Example: {'latency_ms': 1.8, 'pool': {'idle':
            1, 'in_use': 1, 'max': 10, 'size': 2}, 'reachable': True, 'server_version': '17.5'}.
        schema (SchemaHealth): The schema check: migrations applied and structure as expected. Example:
            {'expected_version': 6, 'ok': True, 'problems': [], 'version': 6}.
    """

    status: ReadyStatus
    database: DatabaseHealth
    schema: SchemaHealth
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        database = self.database.to_dict()

        schema = self.schema.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
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

        database = DatabaseHealth.from_dict(d.pop("database"))

        schema = SchemaHealth.from_dict(d.pop("schema"))

        readiness = cls(
            status=status,
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
