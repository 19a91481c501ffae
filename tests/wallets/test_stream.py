"""GET /api/wallet/{address}/stream: a snapshot on connect, then one per change."""

from __future__ import annotations

import asyncio
import json

from tests.factories import make_campaign, make_product, wallet
from tests.wallets.conftest import make_reward


def _events(body: str) -> list[tuple[str, str]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.split("\n") if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append((fields["event"], fields["data"]))
    return events


async def test_stream__snapshot_on_connect_then_on_change_only(client, db_session):
    user = wallet()
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    await make_reward(db_session, product, campaign, user, 10)
    before = (await client.get(f"/api/wallet/{user}/rewards")).json()

    async def add_later() -> None:
        await asyncio.sleep(1.3)
        await make_reward(db_session, product, campaign, user, 5)

    adding = asyncio.create_task(add_later())
    response = await client.get(f"/api/wallet/{user.lower()}/stream?max_seconds=3", timeout=10)
    await adding

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert [name for name, _ in events] == ["snapshot", "snapshot"]  # unchanged polls: silent
    assert json.loads(events[0][1]) == before
    assert json.loads(events[1][1])["tokens"][0]["queued"] == "15"


async def test_stream__max_seconds_is_bounded(client):
    response = await client.get(f"/api/wallet/{wallet()}/stream?max_seconds=601")
    assert response.status_code == 422
