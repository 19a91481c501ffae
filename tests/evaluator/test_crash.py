"""Crash matrix: the evaluator is SIGKILLed at each step of a batch, restarted; every
interaction is evaluated exactly once (rewards, budget and referral edges)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backend.evaluation.faults import STEPS
from tests.conftest import TEST_SECRET
from tests.evaluator.helpers import drain, store
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, count, rows

REPO = Path(__file__).resolve().parents[2]
KILLED = -signal.SIGKILL
EVALUATE = """
import asyncio, os
from backend.core.config import load_settings
from backend.core.context import AppContext
from backend.evaluation.batch import evaluate_once

async def main():
    settings = load_settings()
    ctx = AppContext(settings, settings.database_url, str(settings.rpc_url))
    limit = int(os.environ["BATCH"])
    while (await evaluate_once(ctx.sessions, secret=settings.secret_key, limit=limit)).evaluated:
        pass
    await ctx.close()

asyncio.run(main())
"""


def _run_evaluator(database_url: str, **extra: str) -> tuple[int, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CASCADE_CRASH")},
        "DATABASE_URL": database_url,
        "RPC_URL": "http://127.0.0.1:9",
        "SECRET_KEY": TEST_SECRET,
        "LOG_LEVEL": "WARNING",
        "BATCH": "3",
        **extra,
    }
    done = subprocess.run(
        [sys.executable, "-c", EVALUATE], cwd=REPO, env=env, capture_output=True, timeout=120
    )
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


async def _seed(client, db_session) -> tuple[object, list[str]]:
    """Three referrals and three purchases: every step of a batch has something to do."""
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    people = [wallet() for _ in range(4)]
    for referrer, referred in zip(people, people[1:], strict=False):
        await store(client, key, product.id, referred, "referral.referred", referrer=referrer)
        await store(client, key, product.id, referred, "purchase.completed", order_id=referred)
    return campaign, people


@pytest.mark.parametrize("step", STEPS)
async def test_evaluator__killed_at_step__restart_evaluates_everything_once(
    client, db_session, clean_db, step
):
    campaign, people = await _seed(client, db_session)

    code, output = await asyncio.to_thread(
        _run_evaluator, clean_db.database_url, CASCADE_CRASH_AT=step
    )
    assert code == KILLED, output
    queued = await count(db_session, "SELECT count(*) FROM evaluation_queue")
    paid_so_far = await count(db_session, "SELECT count(*) FROM rewards")
    if step == "evaluation.committed":  # the first batch (3 interactions) is durable
        # b's referral, b's purchase (b and a paid), c's referral
        assert (queued, paid_so_far) == (3, 2)
    else:  # nothing of the killed batch is left behind
        assert (queued, paid_so_far) == (6, 0)
        assert await count(db_session, "SELECT used_budget FROM campaigns") == 0
    code, output = await asyncio.to_thread(_run_evaluator, clean_db.database_url)
    assert code == 0, output

    assert await count(db_session, "SELECT count(*) FROM evaluation_queue") == 0
    paid = await rows(
        db_session,
        "SELECT i.order_id, r.wallet, r.level, r.amount FROM rewards AS r "
        "JOIN interactions AS i ON i.id = r.interaction_id ORDER BY i.id, r.level",
    )
    # people[0] refers 1, 1 refers 2, 2 refers 3; each buys after being referred
    a, b, c, d = people
    assert [(p.order_id, p.wallet, p.level, int(p.amount)) for p in paid] == [
        (b, b, 0, 5 * E18),
        (b, a, 1, 5 * E18),
        (c, c, 0, 5 * E18),
        (c, b, 1, 4 * E18),
        (c, a, 2, 1 * E18),
        (d, d, 0, 5 * E18),
        (d, c, 1, 4 * E18),
        (d, b, 2, 8 * E18 // 10),
        (d, a, 3, 2 * E18 // 10),
    ]
    used = "SELECT used_budget FROM campaigns WHERE id = :id"
    assert await count(db_session, used, id=campaign.id) == 30 * E18  # type: ignore[attr-defined]
    claims = "SELECT count(*) FROM interactions WHERE referrer_wallet IS NOT NULL AND flag IS NULL"
    assert await count(db_session, claims) == 3
    assert await count(db_session, "SELECT count(*) FROM referral_edges") == 3
    assert await drain(clean_db) == []  # nothing left to evaluate twice
