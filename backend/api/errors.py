"""One error body for every 4xx/5xx: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from backend.core.db import connection_gone
from backend.core.errors import DomainError, RateLimited
from backend.core.transient import is_transient

log = logging.getLogger("backend.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    details: Any = None


class ErrorBody(msgspec.Struct):
    """The documented shape of every error answer (see `error_body`)."""

    error: ErrorDetail


# The errors any operation may answer, whatever its domain: documented once here so
# the OpenAPI schema describes what `EXCEPTION_HANDLERS` really send (Litestar's
# default documents its own 400 body, which this app never returns).
DOCUMENTED_ERRORS = {
    400: "Malformed request (unreadable JSON, bad header)",
    401: "Missing, unknown or expired credentials",
    403: "Authenticated, but without the role this needs",
    404: "Not found, or not visible to this caller",
    409: "Conflicts with the current state",
    413: "Request body above MAX_BODY_BYTES",
    422: "Invalid input; details name the fields",
    429: "Rate limited; see Retry-After",
    503: "Database or chain unavailable; retry shortly",
}


def document_errors(handlers: Iterable[Any]) -> None:
    """Give each schema-visible HTTP handler the error responses above (its own win)."""
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler) or not handler.include_in_schema:
            continue
        own = dict(handler.responses or {})
        documented = {
            status: ResponseSpec(
                data_container=ErrorBody, description=description, generate_examples=False
            )
            for status, description in DOCUMENTED_ERRORS.items()
        }
        handler.responses = {**documented, **own}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _response(status: int, code: str, message: str, details: Any = None, **headers: str):
    return Response(
        content=error_body(code, message, details),
        status_code=status,
        headers=headers or None,
        media_type="application/json",
    )


def domain_error_handler(_: Request, exc: DomainError) -> Response:
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return _response(exc.status_code, exc.code, exc.message, exc.details, **headers)


def validation_error_handler(_: Request, exc: ValidationException) -> Response:
    """Malformed or invalid input is a 422 naming the field (Litestar says 400), with the
    details every 422 has ({"field", "problem"}, as `core.errors.invalid` raises them)."""
    found = [i for i in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(i, dict)]
    message = exc.detail or "invalid request"
    details = None
    if found:
        field = str(found[0].get("key") or "")
        problem = str(found[0].get("message") or message)
        if field and field != "None":
            message = f"{field}: {problem}"
            details = {"field": field, "problem": problem}
        else:
            details = {"field": "body", "problem": problem}
    return _response(422, "validation_error", message, details)


def http_error_handler(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error" if status >= 500 else "bad_request")
    if isinstance(exc, NotAuthorizedException):
        code = "unauthorized"
    elif isinstance(exc, PermissionDeniedException):
        code = "forbidden"
    return _response(status, code, exc.detail or code.replace("_", " "), exc.extra or None)


# Paths that carry a credential (a one-time login link): logged without it.
SECRET_PATH_PREFIXES = ("/api/auth/magic/",)


def loggable_path(path: str) -> str:
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix):
            return prefix + "[redacted]"
    return path


def database_error_handler(request: Request, exc: Exception) -> Response:
    """A database that is down or restarting is a clean 503, never a 500."""
    if is_transient(exc):  # deadlock victim / serialization failure: nothing was written
        log.warning("transient database conflict", extra={"path": request.url.path})
        return _response(
            503, "conflict_retry", "concurrent update conflict, retry", **{"Retry-After": "1"}
        )
    if isinstance(exc, OperationalError | InterfaceError) or _is_connection_error(exc):
        log.warning("database unavailable", extra={"path": loggable_path(request.url.path)})
        return _response(
            503,
            "database_unavailable",
            "database unavailable, retry shortly",
            **{"Retry-After": "2"},
        )
    return internal_error_handler(request, exc)


def _is_connection_error(exc: BaseException) -> bool:
    if connection_gone(exc):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, ConnectionError | OSError) or name in {
            "ConnectionDoesNotExistError",
            "CannotConnectNowError",
            "ConnectionFailureError",
            "AdminShutdownError",
            "InterfaceError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False


def recursion_error_handler(_: Request, exc: RecursionError) -> Response:
    """A body nested deeper than the decoder follows (msgspec stops at its recursion limit
    before the handler runs): the client's JSON is unreadable, not our crash."""
    return _response(400, "invalid_json", "request body is nested too deeply to read")


def internal_error_handler(request: Request, exc: Exception) -> Response:
    if _is_connection_error(exc):
        return database_error_handler(request, OperationalError("", None, exc))
    log.exception("unhandled error", extra={"path": loggable_path(request.url.path)})
    return _response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    DBAPIError: database_error_handler,
    OperationalError: database_error_handler,
    RecursionError: recursion_error_handler,
    Exception: internal_error_handler,
}
