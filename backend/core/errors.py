"""Domain errors. Services raise these; one handler maps them to HTTP.

Each error has a stable machine-readable `code` and the HTTP status it maps to;
no service ever raises an HTTP exception itself.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    status_code = 422
    code = "validation_error"


def invalid(field: str, problem: str, code: str = "validation_error") -> InvalidInput:
    """The one 422 a rule raises about a field: details are always {"field", "problem"},
    the shape schema errors have too (backend.api.errors), so clients read one shape."""
    return InvalidInput(
        f"{field}: {problem}", details={"field": field, "problem": problem}, code=code
    )


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"
