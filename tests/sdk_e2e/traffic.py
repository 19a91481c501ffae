"""What leaves a page: HTTP requests (CDP Network domain) and postMessage traffic.

STYLE.md: browser tests assert the exact messages and requests that leave the
page. Requests are recorded for every frame of the tab (the listener iframe is
same-site with the shop, so it lives in the same renderer target); messages are
recorded where they arrive, by a capture-phase listener added to every frame
before its own scripts run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.browser.harness import Page
from tests.browser.harness.cdp import CdpError

_RECORD_MESSAGES = """
window.__received = []
window.addEventListener('message', (event) => {
  window.__received.push({ origin: event.origin, data: event.data })
}, true)
"""


@dataclass
class Request:
    request_id: str
    frame_id: str
    method: str
    url: str
    headers: dict[str, str]
    post_data: str | None
    status: int | None = None

    def json(self) -> Any:
        assert self.post_data is not None, f"{self.method} {self.url} had no body"
        return json.loads(self.post_data)


class Traffic:
    def __init__(self, page: Page):
        self.page = page
        self.requests: list[Request] = []

    @classmethod
    async def record(cls, page: Page) -> Traffic:
        """Start recording (before the first navigation, so nothing is missed)."""
        traffic = cls(page)
        page.on("Network.requestWillBeSent", traffic._sent)
        page.on("Network.responseReceived", traffic._answered)
        await page.send("Network.enable", maxPostDataSize=65536)
        await page.add_init_script(_RECORD_MESSAGES)
        return traffic

    def _sent(self, params: dict[str, Any]) -> None:
        request = params["request"]
        self.requests.append(
            Request(
                request_id=params["requestId"],
                frame_id=params.get("frameId", ""),
                method=request["method"],
                url=request["url"],
                headers=request.get("headers", {}),
                post_data=request.get("postData"),
            )
        )

    def _answered(self, params: dict[str, Any]) -> None:
        for request in self.requests:
            if request.request_id == params["requestId"]:
                request.status = params["response"]["status"]

    async def to(self, path: str, method: str = "POST") -> list[Request]:
        """Requests to URLs containing `path`, oldest first, with their bodies."""
        found = [r for r in self.requests if path in r.url and r.method == method]
        for request in found:
            if request.post_data is None and method != "GET":
                try:
                    answer = await self.page.send(
                        "Network.getRequestPostData", requestId=request.request_id
                    )
                    request.post_data = answer["postData"]
                except CdpError:
                    pass  # no body was sent
        return found

    async def received(self, frame: str | None = None) -> list[dict[str, Any]]:
        """The messages a frame received (`None`: the top page): [{origin, data}]."""
        return list(await self.page.evaluate("window.__received || []", frame=frame))
