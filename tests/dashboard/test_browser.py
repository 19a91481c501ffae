"""The dashboard and the wallet page in headless Chromium, against the served backend.

An owner registers with a passkey (virtual authenticator) bound to a wallet,
creates a product and a campaign through the forms, meets the inline errors,
activates, and watches the analytics change as interactions arrive through
the API. A user claims on the wallet page with an injected wallet whose
transactions this test signs and sends to anvil.
"""

from __future__ import annotations

import json
import re
import uuid

from eth_account import Account

from backend.core.context import AppContext
from indexer.runner import index_once
from tests.browser.harness import FakeEthereum, LiveServer, Page, VirtualAuthenticator
from tests.dashboard.setup import TOKEN, ChainWallet, interact, open_shop, settle_and_index
from tests.products.fixtures import funded_account


async def fill(page: Page, selector: str, text: str) -> None:
    """Replace a field's value as a user would: select all, type over it."""
    await page.evaluate(f"document.querySelector({json.dumps(selector)}).value = ''")
    await page.type(selector, text)


async def click(page: Page, selector: str) -> None:
    """Click as a user gesture once the element exists.

    (Page.click waits on the element itself, which CDP returns by value as `{}`,
    falsy in Python: it never sees the element. Waiting on `!!element` does.)
    """
    found = f"document.querySelector({json.dumps(selector)})"
    await page.wait_for(f"!!{found}")
    await page.evaluate(f"{found}.click()", user_gesture=True)


async def submit(page: Page, form: str) -> None:
    """Submit the form with its own button and wait for the next page to load."""
    before = await page.evaluate("window.__pageId = Math.random(); 1")
    assert before == 1
    await click(page, f"{form} button[type=submit]")
    await page.wait_for("window.__pageId === undefined && document.readyState === 'complete'")


async def path(page: Page) -> str:
    return str(await page.evaluate("location.pathname"))


async def metric(page: Page, name: str) -> str:
    return str(await page.evaluate(f"document.querySelector('[data-metric={name}]').textContent"))


async def test_owner__passkey_product_campaign_activate_and_live_analytics(
    page: Page, live_dashboard: LiveServer, clean_db: AppContext, reward_token: str
):
    base = live_dashboard.url
    owner = Account.create()
    await FakeEthereum.install(page, owner)
    await VirtualAuthenticator.add(page)

    # 1. register a passkey bound to the wallet: the dashboard opens
    await page.goto(f"{base}/dashboard")
    assert await path(page) == "/dashboard/login"
    await click(page, "#passkey-register")
    await page.wait_for("location.pathname === '/dashboard'", timeout_s=20)
    await page.wait_for(f"document.body.innerText.includes({json.dumps(owner.address[:8])})")

    # 2. a product, through the form; its admin API key is shown once
    domain = f"sunny-{uuid.uuid4().hex[:6]}.example"
    await fill(page, "#f-name", "Sunny shop")
    await fill(page, "#f-domains", domain)
    await submit(page, "form[action='/dashboard/products']")
    api_key = await page.evaluate("document.querySelector('#secret-value').value")
    assert api_key.startswith("csk_")
    await page.click_text("I stored it", selector="a")
    await page.wait_for("location.pathname.startsWith('/dashboard/products/0x')")
    product_id = (await path(page)).rsplit("/", 1)[1]

    # 3. the bank tab: register the token, deploy the bank
    await page.goto(f"{base}/dashboard/products/{product_id}/bank")
    await fill(page, "#f-address", reward_token)
    await submit(page, f"form[action='/dashboard/products/{product_id}/tokens']")
    assert "RWD" in await page.text()
    await submit(page, f"form[action='/dashboard/products/{product_id}/bank']")
    assert await page.evaluate("!!document.querySelector('#bank-address')")

    # 4. a campaign: bad input shows inline errors, then the corrected form creates it
    await page.goto(f"{base}/dashboard/products/{product_id}/campaigns/new")
    await fill(page, "#f-name", "Welcome bonus")
    await fill(page, "#f-trigger", "Custom Signup!")
    await fill(page, "#f-reward_amount", "5000000000000000000")
    await submit(page, ".campaign-form")
    error = await page.evaluate("document.querySelector('#e-trigger')?.textContent")
    assert error and "matching" in error
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    assert await page.evaluate("document.querySelector('#f-name').value") == "Welcome bonus"
    await fill(page, "#f-trigger", "custom.signup")
    await fill(page, "#f-budget_cap", "100000000000000000000")
    await submit(page, ".campaign-form")
    assert (await path(page)).startswith("/dashboard/campaigns/")
    assert await page.evaluate("document.querySelector('.badge').textContent") == "draft"

    # 5. activate: the bank allocates the budget on-chain
    await submit(page, "form[action$='/activate']")
    assert await page.evaluate("document.querySelector('h2 .badge').textContent") == "active"
    assert await metric(page, "interactions") == "0"

    # 6. interactions through the API: the open page's numbers follow without a reload
    shop_url = live_dashboard.url
    for _ in range(3):
        async_answer = await _signup(shop_url, product_id, api_key)
        assert async_answer["rewards"], async_answer
    await page.wait_for("document.querySelector('[data-metric=interactions]').textContent === '3'")
    assert await metric(page, "pending") == "15 RWD"
    assert await metric(page, "budget-used") == "15 RWD"

    # 7. sign out, then back in with the passkey alone
    await submit(page, "form.signout")
    assert await path(page) == "/dashboard/login"
    await click(page, "#passkey-login")
    await page.wait_for("location.pathname === '/dashboard'", timeout_s=20)
    await page.wait_for("document.body.innerText.includes('Sunny shop')")


async def _signup(base_url: str, product_id: str, api_key: str) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        response = await client.post(
            "/api/external/interactions",
            json={
                "product_id": product_id,
                "wallet": Account.create().address,
                "type": "custom.signup",
            },
            headers={"Authorization": f"Bearer {api_key}", "Prefer": "wait=10"},
        )
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_wallet__claim_all_with_the_injected_wallet_updates_the_claimed_total(
    page: Page,
    live_dashboard: LiveServer,
    chain_context: AppContext,
    clean_db: AppContext,
    db_session,
    reward_token: str,
    chain_snapshot: None,
):
    user = funded_account(chain_context.rpc_url)
    owner = funded_account(chain_context.rpc_url)
    shop = await open_shop(db_session, chain_context, reward_token, owner.address)
    await interact(live_dashboard.url, shop, user.address)
    await settle_and_index(chain_context)
    await interact(live_dashboard.url, shop, user.address)  # a second one stays queued
    before = shop.balance_of(user.address)
    wallet = await ChainWallet.install(page, user, rpc_url=chain_context.rpc_url)

    await page.goto(f"{live_dashboard.url}/wallet")
    await click(page, "#connect")
    row = f"#token-rows tr[data-token='{reward_token}']"
    await page.wait_for(f'!!document.querySelector("{row} [data-field=claimable]")')
    claimable = await page.evaluate(
        f'document.querySelector("{row} [data-field=claimable]").textContent'
    )
    queued = await page.evaluate(
        f'document.querySelector("{row} [data-field=queued]").firstChild.textContent'
    )
    assert (claimable, queued) == ("10", "10")
    # and when the queued one is due on-chain (its campaign settles every cycle)
    expected = await page.evaluate(
        f'document.querySelector("{row} [data-field=expected]").textContent'
    )
    assert re.fullmatch(r"on-chain (by \d{4}-\d\d-\d\d \d\d:\d\d UTC|any moment now)", expected)
    # the history arrives by its own request, after the token rows
    await page.wait_for("document.body.innerText.includes('Spring referrals')")
    await page.wait_for("!document.querySelector('#claim-all').disabled")

    await click(page, "#claim-all")
    await page.wait_for("document.querySelector('#wallet').dataset.claimTx")

    assert [m for m, _ in wallet.calls if m == "eth_sendTransaction"] == ["eth_sendTransaction"]
    assert shop.balance_of(user.address) - before == 10 * TOKEN
    await index_once(chain_context)
    await page.wait_for(
        f"document.querySelector(\"{row} [data-field=claimed]\").textContent === '10'",
        timeout_s=15,
    )
    assert (
        await page.evaluate(f'document.querySelector("{row} [data-field=claimable]").textContent')
        == "0"
    )
    assert await page.evaluate("document.querySelector('#claim-all').disabled")
    assert "claim" in (await page.text()).lower()
