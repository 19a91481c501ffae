"""GET /listener (the iframe page) and /sdk/* (the built SDK files).

The SDK files come from sdk-js/dist, built by `make setup` (or
`cd sdk-js && npm install && npm run build`). A missing build answers 503 with
that instruction: building from a request handler would put npm on the hot path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config import Settings
from backend.core.errors import Unavailable
from backend.interactions.listener import product_origins

SDK_DIST = Path(__file__).resolve().parents[2] / "sdk-js" / "dist"
JAVASCRIPT = "text/javascript"  # Litestar appends "; charset=utf-8"
SDK_CACHE = "public, max-age=300, must-revalidate"  # unversioned URLs: short, revalidated

LISTENER_HTML = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cascade</title>
<body></body>
<script src="sdk/listener.js"></script>
</html>
"""


def listener_csp(origins: list[str]) -> str:
    ancestors = " ".join(origins) if origins else "'none'"
    return (
        f"frame-ancestors {ancestors}; default-src 'none'; script-src 'self'; "
        "connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    )


@get("/listener", media_type="text/html", include_in_schema=False)
async def listener_page(
    db_session: AsyncSession, settings: Settings, product: str = "", origin: str = ""
) -> Response[str]:
    """The listener page for a known product; only its origins may frame it.

    The same origins as GET /api/external/products/{id}/origins (one derivation,
    in the interactions domain); `origin` is checked by the listener script.
    """
    origins = await product_origins(db_session, product, settings.listener_origins)
    return Response(
        LISTENER_HTML,
        media_type="text/html",
        headers={
            "Content-Security-Policy": listener_csp(origins),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@dataclass(frozen=True)
class _Built:
    body: bytes
    etag: str


_cache: dict[str, tuple[tuple[int, int], _Built]] = {}


def _read_built(name: str) -> _Built:
    """A dist file, re-read only when it changed on disk (a rebuild is picked up)."""
    path = SDK_DIST / name
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise Unavailable(
            f"sdk-js is not built ({name} missing): run `make setup` "
            "or `cd sdk-js && npm install && npm run build`",
            code="sdk_not_built",
        ) from None
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(name)
    if cached and cached[0] == key:
        return cached[1]
    body = path.read_bytes()
    built = _Built(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    _cache[name] = (key, built)
    return built


def _script(request: Request[Any, Any, Any], name: str, *, cors: bool) -> Response[bytes]:
    built = _read_built(name)
    headers = {
        "Cache-Control": SDK_CACHE,
        "ETag": built.etag,
        "X-Content-Type-Options": "nosniff",
        # host pages load these from another origin, COEP pages included
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
    if request.headers.get("if-none-match") == built.etag:
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(built.body, media_type=JAVASCRIPT, headers=headers)


@get("/sdk/cascade.js", include_in_schema=False)
async def sdk_classic(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _script(request, "cascade.js", cors=False)


@get("/sdk/cascade.mjs", include_in_schema=False)
async def sdk_module(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Module scripts load with CORS, hence Access-Control-Allow-Origin: *."""
    return _script(request, "cascade.mjs", cors=True)


@get("/sdk/listener.js", include_in_schema=False)
async def sdk_listener(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _script(request, "listener.js", cors=False)


route_handlers = [listener_page, sdk_classic, sdk_module, sdk_listener]
