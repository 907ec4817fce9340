"""The server's error answers (problem+json, RFC 9457) as exceptions."""

from __future__ import annotations

from typing import Any, TypeVar

from todo_api_client.models import Problem
from todo_api_client.types import Response

__all__ = ["ProblemError", "Unauthorized", "expect"]

T = TypeVar("T")


class ProblemError(Exception):
    """The server answered with an error: `problem` is its problem+json body (RFC 9457)."""

    def __init__(self, status: int, problem: Problem | None, response: Response[Any]) -> None:
        self.status = status
        self.problem = problem
        self.response = response
        detail = problem.detail if problem is not None else response.content[:200].decode(errors="replace")
        super().__init__(f"{status}: {detail}")

    @property
    def detail(self) -> str:
        """The sentence meant for people (what a user interface shows)."""
        return self.problem.detail if self.problem is not None else str(self)

    @property
    def field_errors(self) -> dict[str, str]:
        """For a 422: each field at fault and what is wrong with it."""
        if self.problem is None or not self.problem.errors:
            return {}
        return {error.field: error.message for error in self.problem.errors}


class Unauthorized(ProblemError):
    """401: no token, or one that is malformed, expired or revoked (logged out). Log in again."""


def expect(response: Response[Problem | T], status: int | None = None) -> T:
    """The parsed body of a successful response (of `status`, when given).

    Raises `Unauthorized` for a 401 and `ProblemError` for any other error.
    """
    code = int(response.status_code)
    if code >= 400:
        problem = response.parsed if isinstance(response.parsed, Problem) else None
        error = Unauthorized if code == 401 else ProblemError
        raise error(code, problem, response)
    if status is not None and code != status:
        raise ProblemError(code, None, response)
    return response.parsed  # type: ignore[return-value]
