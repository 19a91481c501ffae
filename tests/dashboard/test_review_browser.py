"""The review queue in headless Chromium: an owner signs in, sees a farm's held rewards,
approves one, rejects a selected one, then rejects the rest of the group."""

from __future__ import annotations

import httpx
from eth_account import Account

from backend.auth.sessions import create_login_link
from backend.core.context import AppContext
from tests.browser.harness import LiveServer, Page
from tests.dashboard.test_browser import click
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import count, rows


async def _navigate(page: Page, selector: str) -> None:
    """Click a submit button and wait for the page its form leads to."""
    assert await page.evaluate("window.__pageId = Math.random(); 1") == 1
    await click(page, selector)
    await page.wait_for("window.__pageId === undefined && document.readyState === 'complete'")


async def test_review_queue__approve_one_reject_selected_then_the_group(
    page: Page, live_dashboard: LiveServer, clean_db: AppContext, db_session
):
    base = live_dashboard.url
    owner = Account.create()
    product, key = await make_product(db_session, owner=owner.address, name="Farm shop")
    await make_campaign(db_session, product, trigger="referral.referred")
    farmer, socks = wallet(), [wallet() for _ in range(3)]
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        for who, kind, data in [(farmer, "webshop.open", None)] + [
            (sock, "referral.referred", {"referrer": farmer}) for sock in socks
        ]:
            response = await client.post(
                "/api/external/interactions",
                json={"product_id": product.id, "wallet": who, "type": kind}
                | ({"data": data} if data else {}),
                headers={
                    "Authorization": f"Bearer {key}",
                    "Cascade-Device-Id": "one-phone",
                    "Prefer": "wait=10",
                },
            )
            assert response.status_code == 202, response.text
    ids = [r.id for r in await rows(db_session, "SELECT id FROM rewards ORDER BY id")]
    assert len(ids) == 6  # three referrals, each paying the sock and the farmer
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'held'") == 6

    login = await create_login_link(db_session, owner.address)
    await page.goto(f"{base}/api/auth/magic/{login}")
    await page.goto(f"{base}/dashboard/products/{product.id}/review")
    rendered = await page.evaluate("document.querySelectorAll('tr[data-reward]').length")
    assert rendered == 6
    assert await page.evaluate(f"document.querySelector('[data-referrer=\"{farmer}\"]') !== null")

    await _navigate(page, f'button[value="approve:{ids[0]}"]')
    notice = await page.evaluate("document.querySelector('#review-done').textContent")
    assert notice.strip() == "1 reward reviewed."

    await click(page, f'input[name="reward_id"][value="{ids[1]}"]')
    await _navigate(page, 'button[value="reject-selected"]')
    assert await page.evaluate("document.querySelectorAll('tr[data-reward]').length") == 4

    await _navigate(page, 'button[value="reject-group"]')
    assert await page.evaluate("!!document.querySelector('#review-empty')")

    found = await rows(db_session, "SELECT id, status FROM rewards ORDER BY id")
    assert [r.status for r in found] == ["pending"] + ["cancelled"] * 5
    audit = await rows(db_session, "SELECT action FROM audit_log ORDER BY id")
    assert [a.action for a in audit] == ["reward.approve", "reward.reject", "reward.reject"]
