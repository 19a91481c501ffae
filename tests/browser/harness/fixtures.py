"""Pytest fixtures for browser suites; import them all into a conftest.py:

    from tests.browser.harness.fixtures import *  # noqa: F403

`browser` (one Chromium per session), `page` (a fresh tab and browser context
per test, screenshot + console log into test-output/browser/ when the test
fails), `static_site` (a second origin serving pages you register).
A suite builds its own `live_server` with `LiveServer(app_factory)`: which
routes and settings it needs is its business.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness.cdp import CdpConnection
from tests.browser.harness.chromium import Chromium, ChromiumUnavailable, ensure_chromium
from tests.browser.harness.page import Page
from tests.browser.harness.servers import StaticSite

OUTPUT_DIR = Path(__file__).resolve().parents[3] / "test-output" / "browser"

__all__ = ["browser", "page", "pytest_runtest_makereport", "static_site"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Remember each phase's report on the item, so `page` knows the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[CdpConnection]:
    """A CDP connection to one headless Chromium for the whole session.

    Chromium is the Debian package (installed by `make test`, or here when we are
    root); tests skip only if it truly cannot be installed, and fail in CI.
    """
    try:
        chromium = Chromium(ensure_chromium()).start()
    except ChromiumUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {exc}")
        pytest.skip(f"no Chromium: {exc}")
    connection = await CdpConnection.connect(chromium.websocket_url)
    yield connection
    await connection.close()
    chromium.stop()


@pytest.fixture
async def page(browser: CdpConnection, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    tab = await Page.open(browser)
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            await tab.screenshot(OUTPUT_DIR / f"{name}.png")
        except Exception as exc:  # the tab may be the thing that broke
            tab.console.append(f"(screenshot failed: {exc})")
        (OUTPUT_DIR / f"{name}.log").write_text("\n".join(tab.console) + "\n")
    await tab.close()


@pytest.fixture(scope="session")
def static_site() -> Iterator[StaticSite]:
    site = StaticSite().start()
    yield site
    site.stop()
