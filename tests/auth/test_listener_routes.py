"""The listener page and the SDK files, as PROTOCOL.md section 1 specifies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.listener import routes as listener_routes
from tests.factories import make_product


async def test_listener__known_product__page_with_frame_ancestors(api, db_session, settings):
    product, _ = await make_product(
        db_session, domain="shop.example", domains=["shop.example", "www.shop.example"]
    )

    response = await api.get(
        "/listener", params={"product": product.id, "origin": "https://shop.example"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script src="sdk/listener.js"></script>' in response.text
    csp = response.headers["content-security-policy"]
    assert csp.startswith("frame-ancestors https://shop.example https://www.shop.example;")
    assert (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'"
        in csp
    )
    assert "base-uri 'none'; form-action 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_listener__unknown_product__404(api, clean_db):
    response = await api.get(
        "/listener", params={"product": "0x" + "ab" * 32, "origin": "https://x.example"}
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "cors"), [("cascade.js", False), ("cascade.mjs", True), ("listener.js", False)]
)
async def test_sdk_files__javascript_cached_and_cors_for_the_module(
    api, name, cors, tmp_path, monkeypatch
):
    (tmp_path / name).write_text("console.log('built')\n")
    monkeypatch.setattr(listener_routes, "SDK_DIST", Path(tmp_path))

    response = await api.get(f"/sdk/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.text == "console.log('built')\n"
    assert response.headers["cache-control"] == "public, max-age=300, must-revalidate"
    assert (response.headers.get("access-control-allow-origin") == "*") is cors
    again = await api.get(f"/sdk/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_sdk_files__not_built__503_says_how_to_build(api, tmp_path, monkeypatch):
    monkeypatch.setattr(listener_routes, "SDK_DIST", Path(tmp_path) / "missing")

    response = await api.get("/sdk/cascade.js")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sdk_not_built"
    assert "npm run build" in response.json()["error"]["message"]
