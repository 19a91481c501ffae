"""What a push cycle asks the node: the requests correctness needs, nothing per call twice."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from web3._utils.http_session_manager import HTTPSessionManager

from backend.settlement.job import push_once
from backend.settlement.options import load_options
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env


def _count_requests(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """JSON-RPC requests as they leave for the node (after web3's own request cache)."""
    sent: Counter[str] = Counter()
    original = HTTPSessionManager.async_make_post_request

    async def counted(self: Any, endpoint_uri: str, data: Any, **kwargs: Any) -> Any:
        sent[json.loads(data)["method"]] += 1
        return await original(self, endpoint_uri, data, **kwargs)

    monkeypatch.setattr(HTTPSessionManager, "async_make_post_request", counted)
    return sent


async def test_push_cycle__chain_id_asked_once_per_process__not_before_every_call(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), TOKENS)])
    await push_once(env.ctx, options=FAST)  # the process has met this node
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), TOKENS)])
    sent = _count_requests(monkeypatch)

    report = await push_once(env.ctx, options=load_options(receipt_wait_s=30))

    assert report.batches_pushed == 1
    assert sent["eth_chainId"] == 0  # web3 asked 13 times per one-batch cycle before
    assert sent["eth_sendRawTransaction"] == 1
    # 42 before the chain id was kept (receipt polls left out: their number is timing)
    assert sum(n for method, n in sent.items() if method != "eth_getTransactionReceipt") < 30
