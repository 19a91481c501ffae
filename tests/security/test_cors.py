"""CORS: only the configured origins may read the API from a browser; none by default."""

from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_app
from backend.core.config import Settings
from backend.core.context import AppContext
from tests.conftest import asgi_client

ALLOWED = "https://shop.example"
OTHER = "https://evil.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}
API_PATHS = ["/api/external/interactions", "/api/business/products", "/api/auth/me"]


def _client(settings: Settings, context: AppContext, origins: list[str]) -> httpx.AsyncClient:
    configured = settings.model_copy(update={"cors_origins": origins})
    app = create_app(
        configured, database_url=context.database_url, rpc_url=context.rpc_url, context=context
    )
    return asgi_client(app)


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


@pytest.mark.parametrize("path", API_PATHS)
async def test_preflight__configured_origin__allowed(settings, clean_db, path) -> None:
    async with _client(settings, clean_db, [ALLOWED]) as client:
        response = await client.options(path, headers={"Origin": ALLOWED, **PREFLIGHT})

    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers.get("access-control-allow-credentials") == "true"


@pytest.mark.parametrize("path", API_PATHS)
async def test_preflight__other_origin__no_allow_origin(settings, clean_db, path) -> None:
    async with _client(settings, clean_db, [ALLOWED]) as client:
        response = await client.options(path, headers={"Origin": OTHER, **PREFLIGHT})

    assert "access-control-allow-origin" not in response.headers
    assert response.status_code < 500


async def test_simple_request__other_origin__no_allow_origin(settings, clean_db) -> None:
    async with _client(settings, clean_db, [ALLOWED]) as client:
        allowed = await client.get("/health/live", headers={"Origin": ALLOWED})
        other = await client.get("/health/live", headers={"Origin": OTHER})

    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-origin" not in other.headers
    assert other.status_code == 200  # the browser, not the server, withholds the answer


@pytest.mark.parametrize("path", API_PATHS)
async def test_no_configured_origins__no_cors_headers(settings, clean_db, path) -> None:
    assert settings.cors_origins == []
    async with _client(settings, clean_db, []) as client:
        preflight = await client.options(path, headers={"Origin": ALLOWED, **PREFLIGHT})
        simple = await client.get("/health/live", headers={"Origin": ALLOWED})

    assert _cors_headers(preflight) == {}
    assert _cors_headers(simple) == {}
