from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PoolHealth")


@_attrs_define
class PoolHealth:
    """The connection pool of this instance.

    Example:
        {'idle': 1, 'in_use': 1, 'max': 10, 'size': 2}

    Attributes:
        size (int): Connections open now.
        idle (int): Open connections waiting for work.
        in_use (int): Connections serving a request now.
        max_ (int): `DB_MAX_CONNECTIONS`.
    """

    size: int
    idle: int
    in_use: int
    max_: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        size = self.size

        idle = self.idle

        in_use = self.in_use

        max_ = self.max_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "size": size,
                "idle": idle,
                "in_use": in_use,
                "max": max_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        size = d.pop("size")

        idle = d.pop("idle")

        in_use = d.pop("in_use")

        max_ = d.pop("max")

        pool_health = cls(
            size=size,
            idle=idle,
            in_use=in_use,
            max_=max_,
        )

        pool_health.additional_properties = d
        return pool_health

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
