"""The one error body every service answers with, and the domain errors that map onto it.

Every 4xx and 5xx answer is an ``ErrorBody``, FastAPI's own ``{"detail": ...}``:

* ``detail`` is a sentence for people (401, 403, 404, 409, 413, 429, 503), or, for 422 only, the
  list of ``ValidationIssue`` naming each bad field (``loc`` such as ``["body", "unit_id"]``);
* a conflict (409) about a status may add ``allowed``, the statuses that may be asked for instead
  (empty when none may), and ``current_status``, the status the resource is in now.

Domain code raises a ``DomainError`` subclass and never builds an HTTP answer: the handler that
``dispatch_shared.http.create_service_app`` registers turns it into its status and body. This module
imports no web framework, so plain domain modules can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Conflict",
    "DomainError",
    "ErrorBody",
    "InvalidInput",
    "NotFound",
    "ValidationIssue",
]


class ValidationIssue(BaseModel):
    """One reason a request was refused with 422, FastAPI's validation error shape."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"type": "missing", "loc": ["body", "reason"], "msg": "Field required", "input": {}},
            ]
        },
    )

    type: str = Field(
        description="Machine-readable kind of problem, e.g. 'missing', 'enum', 'string_too_long', "
        "'value_error', 'json_invalid'."
    )
    loc: list[str | int] = Field(
        description="Where the problem is: 'body', 'query', 'path' or 'header', then field names and "
        "list indexes, e.g. ['body', 0, 'unit_id']."
    )
    msg: str = Field(description="What is wrong, for people.")
    input: Any = Field(default=None, description="The value refused, when it can be shown; absent otherwise.")
    ctx: dict[str, Any] | None = Field(
        default=None, description="Limits the value broke, e.g. {'max_length': 64}; absent when none."
    )


class ErrorBody(BaseModel):
    """The body of every error answer (4xx and 5xx) of every service."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"detail": "no call 3f2c1e4a-8b7d-4c1e-9f3a-2b6d8e0c5a71"},
                {
                    "detail": "a call cannot go from on_scene to en_route; allowed: resolved, cancelled",
                    "allowed": ["resolved", "cancelled"],
                    "current_status": "on_scene",
                },
                {"detail": [{"type": "missing", "loc": ["body", "reason"], "msg": "Field required"}]},
            ]
        }
    )

    detail: str | list[ValidationIssue] = Field(
        description="What went wrong: a sentence for people, or for 422 the list of validation issues."
    )
    allowed: list[str] | None = Field(
        default=None,
        description="409 about a status only: the statuses that may be asked for instead (empty: none).",
    )
    current_status: str | None = Field(
        default=None, description="409 about a status only: the status the call or unit is in now."
    )

    def wire(self) -> dict[str, Any]:
        """The JSON object sent: fields that are not set are left out, an empty ``allowed`` is kept."""
        return self.model_dump(mode="json", exclude_none=True)


class DomainError(Exception):
    """A request the domain refuses: ``status_code`` and a ``detail`` sentence for the caller.

    Subclasses fix the status; the message never holds a narrative or a key.
    """

    status_code: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> ErrorBody:
        """The answer's body."""
        return ErrorBody(detail=self.detail)


class NotFound(DomainError):
    """The resource named in the path does not exist (404)."""

    status_code = 404


class Conflict(DomainError):
    """The request cannot apply to the resource as it is now (409).

    ``allowed``: for a refused status change, the statuses that may be asked for instead (an empty
    sequence says none may); None when the conflict is not about a status. ``current_status``: the
    status the resource is in, when that is why.
    """

    status_code = 409

    def __init__(
        self, detail: str, *, allowed: Sequence[str] | None = None, current_status: str | None = None
    ) -> None:
        super().__init__(detail)
        self.allowed = None if allowed is None else [str(value) for value in allowed]
        self.current_status = current_status

    def body(self) -> ErrorBody:
        return ErrorBody(detail=self.detail, allowed=self.allowed, current_status=self.current_status)


class InvalidInput(DomainError):
    """A well-formed request whose value the domain cannot take (422), naming the field at ``loc``."""

    status_code = 422

    def __init__(self, loc: Sequence[str | int], message: str, *, kind: str = "value_error") -> None:
        super().__init__(message)
        self.loc = list(loc)
        self.kind = kind

    def body(self) -> ErrorBody:
        return ErrorBody(detail=[ValidationIssue(type=self.kind, loc=self.loc, msg=self.detail)])
