"""The app skeleton: health, one error format, request ids, OpenAPI, body limits."""

from __future__ import annotations

import msgspec
from litestar import post

from backend.api.app import create_app
from backend.core.context import AppContext
from tests.conftest import asgi_client


class EchoBody(msgspec.Struct, forbid_unknown_fields=True):
    amount: int


@post("/echo")
async def echo(data: EchoBody) -> dict[str, int]:
    return {"amount": data.amount}


async def test_live__answers(client):
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "live"}


async def test_ready__checks_database_and_chain(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert isinstance(body["checks"]["chain"]["block"], int)


async def test_ready__chain_down_is_503_with_reason(settings, database_url):
    dead_rpc = "http://127.0.0.1:9"  # discard port: nothing answers
    context = AppContext(settings, database_url, dead_rpc)
    app = create_app(settings, database_url=database_url, rpc_url=dead_rpc, context=context)
    async with asgi_client(app) as test_client:
        response = await test_client.get("/health/ready")
    await context.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["chain"]["ok"] is False
    assert body["error"]["code"] == "not_ready"
    assert "chain" in body["error"]["details"]


async def test_ready__database_down_is_503(settings, rpc_url):
    dead_db = "postgresql+asyncpg://postgres@127.0.0.1:9/none"
    context = AppContext(settings, dead_db, rpc_url)
    app = create_app(settings, database_url=dead_db, rpc_url=rpc_url, context=context)
    async with asgi_client(app) as test_client:
        response = await test_client.get("/health/ready")
    await context.close()
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


async def test_unknown_route__uses_the_error_format(client):
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None}
    }


async def test_wrong_method__is_405_in_the_error_format(client):
    response = await client.post("/health/live")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_request_id__is_echoed_or_generated(client):
    given = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 16
    ids = {(await client.get("/health/live")).headers["x-request-id"] for _ in range(50)}
    assert len(ids) == 50  # every generated id names one request
    hostile = await client.get("/health/live", headers={"X-Request-ID": "a b\x01"})
    assert hostile.headers["x-request-id"] != "a b\x01"


async def test_openapi_schema__is_served(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/health/ready" in paths and "/health/live" in paths


async def test_validation_error__is_422_naming_the_field(settings, clean_db):
    app = create_app(
        settings, database_url=clean_db.database_url, rpc_url=clean_db.rpc_url, context=clean_db
    )
    app.register(echo)
    async with asgi_client(app) as test_client:
        ok = await test_client.post("/echo", json={"amount": 3})
        bad = await test_client.post("/echo", json={"amount": "three"})
        unknown = await test_client.post("/echo", json={"amount": 3, "extra": 1})
        huge = await test_client.post(
            "/echo",
            content=b'{"amount": 1, "pad": "' + b"x" * 2_000_000 + b'"}',
            headers={"content-type": "application/json"},
        )
    assert ok.status_code == 201 and ok.json() == {"amount": 3}
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    assert "amount" in bad.json()["error"]["message"]
    assert unknown.status_code == 422
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "payload_too_large"
