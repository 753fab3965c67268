"""Wix error envelopes, and the request-body helpers that raise them.

Every emulator failure is an ``ApiError`` carrying the exact JSON body Wix would send
(reference §1b). Handlers raise it; the route wrapper turns it into a response, so no handler
ever builds an error response by hand and every error has the same shape.
"""

from __future__ import annotations

import copy
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

__all__ = [
    "ApiError",
    "app_error",
    "as_object",
    "blank_descriptions",
    "parse_model",
    "read_json",
    "validation_error",
]

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An HTTP error with a Wix-shaped JSON body; the app turns it into a response."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def app_error(
    status: int, code: str, message: str, *, description: str | None = None, data: Any = None
) -> ApiError:
    """The standard ``applicationError`` envelope (reference §1b)."""
    details = {
        "code": code,
        "description": message if description is None else description,
        "data": data or {},
    }
    return ApiError(status, {"message": message, "details": {"applicationError": details}})


def validation_error(field_name: str, description: str, rule: str = "FORMAT") -> ApiError:
    """A 400 with the ``validationError`` envelope naming the offending field."""
    violation = {"field": field_name, "description": description, "violatedRule": rule, "data": {}}
    body = {
        "message": f"{field_name}: {description}",
        "details": {"validationError": {"fieldViolations": [violation]}},
    }
    return ApiError(400, body)


def blank_descriptions(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of an error body with every ``description`` emptied, as platformized Wix does.

    Clients that show or branch on the description must still work when it is ``""``; only the
    status, the message and the code can be relied on.
    """
    body = copy.deepcopy(body)
    details = body.get("details")
    if isinstance(details, dict):
        application = details.get("applicationError")
        if isinstance(application, dict):
            application["description"] = ""
        validation = details.get("validationError")
        if isinstance(validation, dict):
            for violation in validation.get("fieldViolations", []):
                violation["description"] = ""
    return body


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body counts as ``{}``."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise validation_error("body", "must be valid JSON") from None
    return as_object(data, "body")


def as_object(value: Any, field_name: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else a 400 naming ``field_name``."""
    if not isinstance(value, dict):
        raise validation_error(field_name, "must be an object")
    return value


def parse_model(model: type[M], data: Any) -> M:
    """Validate a body with pydantic, reporting the first bad field Wix-style."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field_name = ".".join(str(part) for part in error["loc"]) or "body"
        raise validation_error(field_name, error["msg"]) from None
