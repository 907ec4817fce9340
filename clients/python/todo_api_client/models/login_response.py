from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.token_type import TokenType

if TYPE_CHECKING:
    from ..models.user import User


T = TypeVar("T", bound="LoginResponse")


@_attrs_define
class LoginResponse:
    """An access token and the account it belongs to.

    Example:
        {'access_token': 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', 'expires_at':
            '2026-11-24T00:00:00Z', 'token_type': 'bearer', 'user': {'created_at': '2026-11-23T00:00:00Z', 'email':
            'alice@example.com', 'id': 1, 'updated_at': '2026-11-23T00:00:00Z', 'username': 'alice'}}

    Attributes:
        access_token (str): Send as `Authorization: Bearer <access_token>`.
        token_type (TokenType):
        expires_at (datetime.datetime): When the token stops working.
        user (User): An account, as clients see it: never a password or its hash. Example: {'created_at':
            '2026-11-23T00:00:00Z', 'email': 'alice@example.com', 'id': 1, 'updated_at': '2026-11-23T00:00:00Z', 'username':
            'alice'}.
    """

    access_token: str
    token_type: TokenType
    expires_at: datetime.datetime
    user: User
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        access_token = self.access_token

        token_type = self.token_type.value

        expires_at = self.expires_at.isoformat()

        user = self.user.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "access_token": access_token,
                "token_type": token_type,
                "expires_at": expires_at,
                "user": user,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.user import User

        d = dict(src_dict)
        access_token = d.pop("access_token")

        token_type = TokenType(d.pop("token_type"))

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        user = User.from_dict(d.pop("user"))

        login_response = cls(
            access_token=access_token,
            token_type=token_type,
            expires_at=expires_at,
            user=user,
        )

        login_response.additional_properties = d
        return login_response

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
