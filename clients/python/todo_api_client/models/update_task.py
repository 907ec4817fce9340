from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.update_task_priority import UpdateTaskPriority
from ..types import UNSET, Unset

T = TypeVar("T", bound="UpdateTask")


@_attrs_define
class UpdateTask:
    """Changes to a task: a field present replaces, `null` clears a nullable field, a field
    left out stays as it is. A field sent back exactly as stored is accepted even where
    today's rules would refuse it as new input (values the original backend stored).

        Example:
            {'description': None, 'priority': 'Low', 'title': 'Water the plants twice'}

        Attributes:
            title (str | Unset): 1 to 200 characters with something visible in them and no control characters, like "Water
                the plants" Example: Water the plants.
            description (None | str | Unset): text of at most 5 000 characters without the NUL character, like "The ones on
                the balcony" Example: The ones on the balcony.
            due_date (None | str | Unset): a date like 2026-12-01 or a date-time with a time zone like 2026-12-01T09:30:00Z,
                in the years 1000 to 9998 (offsets up to 15:59) Example: 2026-12-01.
            priority (UpdateTaskPriority | Unset): one of High, Medium or Low, like Medium Example: Medium.
            tags (None | str | Unset): comma-separated tags like "work,home": at most 20 tags of at most 50 characters, each
                with something visible in it and no control characters Example: work,home.
            recursion_pattern (None | str | Unset): how the task repeats: daily, weekly, monthly, yearly, weekdays, "every N
                days" (or weeks, months, years; N from 1 to 365) or an RRULE like FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE, at most
                100 characters Example: weekly.
            completed (bool | Unset): true or false Example: True.
    """

    title: str | Unset = UNSET
    description: None | str | Unset = UNSET
    due_date: None | str | Unset = UNSET
    priority: UpdateTaskPriority | Unset = UNSET
    tags: None | str | Unset = UNSET
    recursion_pattern: None | str | Unset = UNSET
    completed: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        title = self.title

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        due_date: None | str | Unset
        if isinstance(self.due_date, Unset):
            due_date = UNSET
        else:
            due_date = self.due_date

        priority: str | Unset = UNSET
        if not isinstance(self.priority, Unset):
            priority = self.priority.value

        tags: None | str | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        else:
            tags = self.tags

        recursion_pattern: None | str | Unset
        if isinstance(self.recursion_pattern, Unset):
            recursion_pattern = UNSET
        else:
            recursion_pattern = self.recursion_pattern

        completed = self.completed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if title is not UNSET:
            field_dict["title"] = title
        if description is not UNSET:
            field_dict["description"] = description
        if due_date is not UNSET:
            field_dict["due_date"] = due_date
        if priority is not UNSET:
            field_dict["priority"] = priority
        if tags is not UNSET:
            field_dict["tags"] = tags
        if recursion_pattern is not UNSET:
            field_dict["recursion_pattern"] = recursion_pattern
        if completed is not UNSET:
            field_dict["completed"] = completed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        title = d.pop("title", UNSET)

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_due_date(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        due_date = _parse_due_date(d.pop("due_date", UNSET))

        _priority = d.pop("priority", UNSET)
        priority: UpdateTaskPriority | Unset
        if isinstance(_priority, Unset):
            priority = UNSET
        else:
            priority = UpdateTaskPriority(_priority)

        def _parse_tags(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tags = _parse_tags(d.pop("tags", UNSET))

        def _parse_recursion_pattern(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        recursion_pattern = _parse_recursion_pattern(d.pop("recursion_pattern", UNSET))

        completed = d.pop("completed", UNSET)

        update_task = cls(
            title=title,
            description=description,
            due_date=due_date,
            priority=priority,
            tags=tags,
            recursion_pattern=recursion_pattern,
            completed=completed,
        )

        update_task.additional_properties = d
        return update_task

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
