"""A small headless-Chromium harness over the Chrome DevTools Protocol (CDP).

Reusable by any browser suite (auth, dashboard, SDK end-to-end):

    from tests.browser.harness.fixtures import *  # in a conftest.py: fixtures + failure hook

    async def test_something(page, live_server):
        await page.goto(live_server.url + "/listener?product=...")
        assert await page.evaluate("document.title") == "Cascade"

Pieces: `chromium` (find, install check, launch), `cdp` (the protocol client),
`page` (navigate, evaluate, wait, click, type, screenshot, bindings),
`webauthn` (virtual authenticators), `ethereum` (a fake EIP-1193 wallet the
Python test signs for), `servers` (the app under uvicorn, static pages).
"""

from tests.browser.harness.cdp import CdpConnection, CdpError
from tests.browser.harness.chromium import Chromium, ChromiumUnavailable, find_chromium
from tests.browser.harness.ethereum import FakeEthereum
from tests.browser.harness.page import Page
from tests.browser.harness.servers import LiveServer, StaticSite
from tests.browser.harness.webauthn import VirtualAuthenticator

__all__ = [
    "CdpConnection",
    "CdpError",
    "Chromium",
    "ChromiumUnavailable",
    "FakeEthereum",
    "LiveServer",
    "Page",
    "StaticSite",
    "VirtualAuthenticator",
    "find_chromium",
]
