from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.priority import Priority

T = TypeVar("T", bound="Task")


@_attrs_define
class Task:
    """A task. Rows the original backend wrote may hold text today's rules would refuse (a
    free-text `due_date` or `recursion_pattern`, an over-long title): it is shown as stored,
    accepted back unchanged, and drives nothing (a free-text recurrence repeats nothing).

        Example:
            {'completed': False, 'completed_at': None, 'created_at': '2026-11-23T00:00:00Z', 'description': 'The ones on the
                balcony', 'due_date': '2026-12-01', 'id': 7, 'priority': 'High', 'recursion_pattern': 'weekly', 'tags':
                'home,garden', 'title': 'Water the plants', 'updated_at': '2026-11-23T00:00:00Z', 'user_id': 1}

        Attributes:
            id (int):
            user_id (int): The owner.
            title (str): 1–200 characters, trimmed.
            description (None | str): At most 5 000 characters.
            due_date (None | str): A date (`2026-12-01`) or an RFC 3339 date-time, as it was given; free text on rows
                the original backend wrote, which no filter or sort can place.
            priority (Priority): How important a task is. Stored as PostgreSQL's `priority_enum`.
            tags (None | str): Comma-separated tags, normalised: `work,home`.
            recursion_pattern (None | str): How the task repeats: `daily`, `weekly`, `monthly`, `yearly`, `weekdays`,
                `every N days|weeks|months|years`, or an RRULE such as `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE`.
                Completing the task creates its next occurrence. Free text the original backend stored
                is shown as it is and repeats nothing.
            completed (bool):
            completed_at (datetime.datetime | None): When the task became completed (read-only: set by completing it);
                `null` while it is
                open, and on tasks completed before the server recorded it.
            created_at (datetime.datetime):
            updated_at (datetime.datetime):
    """

    id: int
    user_id: int
    title: str
    description: None | str
    due_date: None | str
    priority: Priority
    tags: None | str
    recursion_pattern: None | str
    completed: bool
    completed_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        user_id = self.user_id

        title = self.title

        description: None | str
        description = self.description

        due_date: None | str
        due_date = self.due_date

        priority = self.priority.value

        tags: None | str
        tags = self.tags

        recursion_pattern: None | str
        recursion_pattern = self.recursion_pattern

        completed = self.completed

        completed_at: None | str
        if isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "user_id": user_id,
                "title": title,
                "description": description,
                "due_date": due_date,
                "priority": priority,
                "tags": tags,
                "recursion_pattern": recursion_pattern,
                "completed": completed,
                "completed_at": completed_at,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        user_id = d.pop("user_id")

        title = d.pop("title")

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        def _parse_due_date(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        due_date = _parse_due_date(d.pop("due_date"))

        priority = Priority(d.pop("priority"))

        def _parse_tags(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tags = _parse_tags(d.pop("tags"))

        def _parse_recursion_pattern(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        recursion_pattern = _parse_recursion_pattern(d.pop("recursion_pattern"))

        completed = d.pop("completed")

        def _parse_completed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        completed_at = _parse_completed_at(d.pop("completed_at"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        task = cls(
            id=id,
            user_id=user_id,
            title=title,
            description=description,
            due_date=due_date,
            priority=priority,
            tags=tags,
            recursion_pattern=recursion_pattern,
            completed=completed,
            completed_at=completed_at,
            created_at=created_at,
            updated_at=updated_at,
        )

        task.additional_properties = d
        return task

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
