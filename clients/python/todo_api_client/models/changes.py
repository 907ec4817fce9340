from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.task import Task


T = TypeVar("T", bound="Changes")


@_attrs_define
class Changes:
    """What changed: apply in order, upserting each `changed` task by id and removing each
    `deleted` id, and the copy is the server's list.

        Example:
            {'changed': [{'completed': False, 'completed_at': None, 'created_at': '2026-11-23T00:00:00Z', 'description':
                'The ones on the balcony', 'due_date': '2026-12-01', 'id': 7, 'priority': 'High', 'recursion_pattern': 'weekly',
                'tags': 'home,garden', 'title': 'Water the plants', 'updated_at': '2026-11-23T00:00:00Z', 'user_id': 1}],
                'deleted': [3], 'next': 'NzY1Ojc2NTo'}

        Attributes:
            changed (list[Task]): Tasks created or changed since the token (all of them without one), as they are now.
            deleted (list[int]): Ids of tasks deleted since the token (or no longer the user's).
            next_ (str | Unset): The token for the next call: only on the last page (when no `Link: rel="next"`
                follows).
    """

    changed: list[Task]
    deleted: list[int]
    next_: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        changed = []
        for changed_item_data in self.changed:
            changed_item = changed_item_data.to_dict()
            changed.append(changed_item)

        deleted = self.deleted

        next_ = self.next_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "changed": changed,
                "deleted": deleted,
            }
        )
        if next_ is not UNSET:
            field_dict["next"] = next_

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.task import Task

        d = dict(src_dict)
        changed = []
        _changed = d.pop("changed")
        for changed_item_data in _changed:
            changed_item = Task.from_dict(changed_item_data)

            changed.append(changed_item)

        deleted = cast(list[int], d.pop("deleted"))

        next_ = d.pop("next", UNSET)

        changes = cls(
            changed=changed,
            deleted=deleted,
            next_=next_,
        )

        changes.additional_properties = d
        return changes

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
