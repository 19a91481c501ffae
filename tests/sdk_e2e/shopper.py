"""One person at the demo shop: their tab, wallet extension, authenticator and traffic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from tests.browser.harness import FakeEthereum, Page, VirtualAuthenticator
from tests.sdk_e2e.traffic import Traffic


@dataclass
class Shopper:
    name: str
    page: Page
    account: LocalAccount
    wallet: FakeEthereum
    authenticator: VirtualAuthenticator
    traffic: Traffic

    @property
    def address(self) -> str:
        return str(self.account.address)

    async def visit(self, url: str) -> None:
        """Open a shop page and wait until the SDK has loaded (its buttons are enabled)."""
        await self.page.goto(url)
        await self.page.wait_for("window.shop && window.shop.client !== null")

    async def wait_ready(self) -> None:
        """The listener checked the page's origin and posted `ready` (the first status)."""
        await self.page.wait_for("window.shop.statuses.length > 0", timeout_s=20)

    async def listener(self) -> str:
        return await self.page.frame("/listener?")

    async def connect_new_passkey(self) -> None:
        """Open wallet -> Use a wallet I already have (one signature, one passkey)."""
        listener = await self.listener()
        await self.page.click_text("wallet", selector="#open-wallet")
        await self.page.click_text("Use a wallet I already have", frame=listener)
        expected = json.dumps(self.address)
        await self.page.wait_for(
            f"document.querySelector('#wallet').dataset.wallet === {expected}", timeout_s=20
        )

    async def press(self, selector: str) -> None:
        """Click a page button once it is enabled, as a user gesture.

        (Page.click waits for `document.querySelector(...)`, whose by-value result is
        an empty object, falsy in Python; click_text's `!!` test works for elements.)
        """
        await self.page.click_text("", selector=selector)

    async def status(self) -> dict[str, Any]:
        """The last status watchWalletStatus delivered to the page."""
        # as JSON, so a Date (queuedExpectedBy) arrives as its ISO string
        return dict(
            await self.page.evaluate("JSON.parse(JSON.stringify(window.shop.statuses.at(-1)))")
        )

    async def errors(self) -> list[str]:
        return list(await self.page.evaluate("window.shop.errors.map((e) => e.reason)"))

    async def url(self) -> str:
        return str(await self.page.evaluate("location.href"))

    async def stored(self, key: str) -> Any:
        """A JSON value from the shop origin's localStorage (the SDK's queue, its token)."""
        raw = await self.page.evaluate(f"localStorage.getItem({json.dumps(key)})")
        return None if raw is None else json.loads(raw)
