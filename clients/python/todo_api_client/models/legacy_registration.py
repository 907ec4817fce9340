from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.token_type import TokenType

T = TypeVar("T", bound="LegacyRegistration")


@_attrs_define
class LegacyRegistration:
    """A new account and its first access token: registering also logs in.

    Example:
        {'access_token': 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', 'email':
            'alice@example.com', 'token_type': 'bearer', 'user_id': '1', 'username': 'alice'}

    Attributes:
        access_token (str): Send as `Authorization: Bearer <access_token>`.
        token_type (TokenType):
        user_id (str): The account's id, as a string (as the original backend sent it).
        username (str):
        email (str): Stored lower-case.
    """

    access_token: str
    token_type: TokenType
    user_id: str
    username: str
    email: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        access_token = self.access_token

        token_type = self.token_type.value

        user_id = self.user_id

        username = self.username

        email = self.email

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "access_token": access_token,
                "token_type": token_type,
                "user_id": user_id,
                "username": username,
                "email": email,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        access_token = d.pop("access_token")

        token_type = TokenType(d.pop("token_type"))

        user_id = d.pop("user_id")

        username = d.pop("username")

        email = d.pop("email")

        legacy_registration = cls(
            access_token=access_token,
            token_type=token_type,
            user_id=user_id,
            username=username,
            email=email,
        )

        legacy_registration.additional_properties = d
        return legacy_registration

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
