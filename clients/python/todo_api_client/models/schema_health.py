from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SchemaHealth")


@_attrs_define
class SchemaHealth:
    """The schema check: migrations applied and structure as expected.

    Example:
        {'checked_at': '2026-11-18T11:06:40Z', 'expected_version': 6, 'newer_migrations': [], 'ok': True, 'problems':
            [], 'version': 6}

    Attributes:
        ok (bool):
        version (int | None): Highest migration applied; `null` when the database cannot be reached.
        expected_version (int): Highest migration this build knows.
        newer_migrations (list[int]): Migrations applied that this build does not know, all later than its own: a later
            release migrated the database (a rolling upgrade). Accepted while that release only
            added (tables, nullable or defaulted columns, indexes); `ok` says whether everything
            this build uses is still as it expects. Empty when the schema is this build's own.
        problems (list[str]): What is wrong, one sentence each.
        checked_at (datetime.datetime): When the schema was verified (at startup; `todo-api check` verifies it again).
    """

    ok: bool
    version: int | None
    expected_version: int
    newer_migrations: list[int]
    problems: list[str]
    checked_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ok = self.ok

        version: int | None
        version = self.version

        expected_version = self.expected_version

        newer_migrations = self.newer_migrations

        problems = self.problems

        checked_at = self.checked_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ok": ok,
                "version": version,
                "expected_version": expected_version,
                "newer_migrations": newer_migrations,
                "problems": problems,
                "checked_at": checked_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        ok = d.pop("ok")

        def _parse_version(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        version = _parse_version(d.pop("version"))

        expected_version = d.pop("expected_version")

        newer_migrations = cast(list[int], d.pop("newer_migrations"))

        problems = cast(list[str], d.pop("problems"))

        checked_at = datetime.datetime.fromisoformat(d.pop("checked_at"))

        schema_health = cls(
            ok=ok,
            version=version,
            expected_version=expected_version,
            newer_migrations=newer_migrations,
            problems=problems,
            checked_at=checked_at,
        )

        schema_health.additional_properties = d
        return schema_health

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
