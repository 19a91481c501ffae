"""A fake injected wallet (EIP-1193 `window.ethereum`) whose keys stay in the Python test.

The page's `request()` calls back into the test through a CDP binding; the
test signs with eth-account. No JavaScript crypto is needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from tests.browser.harness.page import Page

_PROVIDER = """
window.ethereum = {
  isCascadeTestWallet: true,
  request: ({ method, params }) => window.__cascadeTestEthereum(method, params || []),
}
"""


class WalletRefused(Exception):
    code = 4001  # EIP-1193: the user rejected the request


@dataclass
class FakeEthereum:
    account: LocalAccount
    chain_id: int = 31337
    refuse: bool = False  # answer every request with 4001, as a user clicking "reject"
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)

    @classmethod
    async def install(cls, page: Page, account: LocalAccount, **options: Any) -> FakeEthereum:
        """Inject `window.ethereum` into every frame of the tab (call before navigating)."""
        wallet = cls(account, **options)
        await page.expose_function("__cascadeTestEthereum", wallet.request)
        await page.add_init_script(_PROVIDER)
        return wallet

    async def request(self, method: str, params: list[Any]) -> Any:
        self.calls.append((method, params))
        if self.refuse:
            raise WalletRefused("User rejected the request.")
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.account.address]
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "personal_sign":
            message_hex, address = params[0], params[1]
            if address.lower() != self.account.address.lower():
                raise ValueError(f"unknown account {address}")
            signed = self.account.sign_message(encode_defunct(hexstr=message_hex))
            return "0x" + signed.signature.hex()
        raise ValueError(f"unsupported method {json.dumps(method)}")
