"""Screenshots of the campaign page and the wallet page at 1280 and 390 px.

Runs in every test run (writing to test-output/dashboard/screenshots/) so the
pages are known to render with real data at both widths; `python -m
tests.dashboard.screenshots` runs it with CASCADE_SCREENSHOT_DIR=docs/screenshots
to refresh the images the README shows.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from backend.auth.sessions import create_login_link
from backend.campaigns.models import Campaign
from backend.core.context import AppContext
from backend.interactions.models import Interaction
from backend.rewards.models import Reward
from tests.browser.harness import LiveServer, Page
from tests.dashboard.setup import (
    TOKEN,
    ChainWallet,
    Shop,
    claim_from_python,
    interact,
    open_shop,
    settle_and_index,
)
from tests.factories import wallet
from tests.products.fixtures import funded_account

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (1280, 390)
MAX_BYTES = 300_000
MAX_HEIGHT = 3_000  # long phone pages are cut here: the top is what a reader looks at


def output_dir() -> Path:
    given = os.environ.get("CASCADE_SCREENSHOT_DIR")
    return Path(given) if given else ROOT / "test-output" / "dashboard" / "screenshots"


async def capture(page: Page, url: str, path: Path, width: int, ready: str) -> Path:
    """The whole page (up to MAX_HEIGHT) at `width` CSS px, as a phone when narrow."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    await page.send("Emulation.setDeviceMetricsOverride", **metrics)
    await page.goto(url)
    await page.wait_for(ready, timeout_s=20)
    height = int(await page.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
    metrics["height"] = min(height, MAX_HEIGHT)
    await page.send("Emulation.setDeviceMetricsOverride", **metrics)
    await asyncio.sleep(0.2)  # one frame at the new size
    shot = await page.send("Page.captureScreenshot", format="png")
    await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
    return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def backfill_history(session, shop: Shop, days: int = 21) -> None:
    """Three weeks of past activity (interactions and rewards), for charts worth looking at."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    referrers = [wallet() for _ in range(8)]
    spent = 0
    for back in range(days, 0, -1):
        day = now - timedelta(days=back, hours=rng.randint(0, 6))
        for kind, weight in (("custom.signup", 9), ("referral.referred", 5), ("content.shared", 4)):
            for _ in range(rng.randint(weight // 2, weight + back % 4)):
                user = wallet()
                interaction_id = await session.scalar(
                    insert(Interaction)
                    .values(
                        product_id=shop.product.id,
                        wallet=user,
                        type=kind,
                        source="api_key",
                        received_at=day,
                        occurred_at=day,
                    )
                    .returning(Interaction.id)
                )
                if kind != "custom.signup":
                    continue
                depth = rng.choice([0, 1, 1, 2, 2, 3, 4])
                chain = [user, *rng.sample(referrers, depth)]
                for level, recipient in enumerate(chain):
                    amount = (5 * TOKEN) // (level + 1)
                    spent += amount
                    pushed = back > 2
                    await session.execute(
                        insert(Reward).values(
                            product_id=shop.product.id,
                            campaign_id=shop.campaign.id,
                            interaction_id=interaction_id,
                            wallet=recipient,
                            level=level,
                            token=shop.token,
                            amount=amount,
                            status="pushed" if pushed else "pending",
                            available_at=day + timedelta(days=365),  # never settled by this test
                            pushed_at=day + timedelta(hours=6) if pushed else None,
                            created_at=day,
                        )
                    )
    await session.execute(
        update(Campaign)
        .where(Campaign.id == shop.campaign.id)
        .values(
            used_budget=Campaign.used_budget + spent,
            created_at=now - timedelta(days=days + 1),
        )
    )
    await session.commit()


async def test_screenshots__campaign_and_wallet_pages_at_two_widths(
    page: Page,
    live_dashboard: LiveServer,
    chain_context: AppContext,
    clean_db: AppContext,
    db_session,
    reward_token: str,
    chain_snapshot: None,
):
    base = live_dashboard.url
    owner = funded_account(chain_context.rpc_url)
    user = funded_account(chain_context.rpc_url)
    shop = await open_shop(
        db_session, chain_context, reward_token, owner.address, budget_cap=4_000 * TOKEN
    )
    # the user's own story: earned, settled, claimed; earned again, settled; one more queued
    await interact(base, shop, user.address)
    await settle_and_index(chain_context)
    await asyncio.to_thread(
        claim_from_python,
        chain_context.rpc_url,
        user,
        chain_context.settings.push_pull_address,
        shop.token,
    )
    for _ in range(2):
        await interact(base, shop, user.address)
    await settle_and_index(chain_context)
    await interact(base, shop, user.address)
    await backfill_history(db_session, shop)
    await ChainWallet.install(page, user, rpc_url=chain_context.rpc_url)
    login = await create_login_link(db_session, owner.address)
    await page.goto(f"{base}/api/auth/magic/{login}")
    assert await page.evaluate("location.pathname") == "/dashboard"

    out = output_dir()
    shots = []
    for width in WIDTHS:
        shots.append(
            await capture(
                page,
                f"{base}/dashboard/campaigns/{shop.campaign.id}",
                out / f"dashboard-campaign-{width}.png",
                width,
                "document.querySelectorAll('svg.chart-svg').length === 5",
            )
        )
        shots.append(
            await capture(
                page,
                f"{base}/wallet?address={user.address}",
                out / f"wallet-{width}.png",
                width,
                "!!document.querySelector('#wallet').dataset.updatedAt",
            )
        )

    for shot in shots:
        size = shot.stat().st_size
        assert 10_000 < size < MAX_BYTES, (shot.name, size)
