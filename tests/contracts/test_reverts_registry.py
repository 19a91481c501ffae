"""Every revert string in contracts/ is in backend.chain.reverts, and vice versa."""

from __future__ import annotations

import re

from backend.chain.reverts import REVERTS, classify
from tests.contracts.conftest import REPO_ROOT

ASSERT_MESSAGE = re.compile(r'"((?:bank|pushpull|factory|ownable): [a-z0-9 ]+)"')


def _contract_messages() -> set[str]:
    sources = [
        path
        for path in (REPO_ROOT / "contracts").rglob("*.vy")
        if "node_modules" not in path.parts and path.parent.name != "test"
    ]
    return {match for path in sources for match in ASSERT_MESSAGE.findall(path.read_text())}


def test_registry_lists_exactly_the_contract_revert_strings():
    assert _contract_messages() == set(REVERTS)


def test_classify__matches_web3_style_messages():
    assert classify("execution reverted: bank: budget exceeded") == "budget_exceeded"
    assert classify("bank: not paused") == "not_paused"
    assert classify("bank: paused") == "paused"
    assert classify("execution reverted: bank: budget changed") == "budget_changed"
    assert classify("execution reverted: pushpull: transfer failed") == "transfer_failed"
    assert classify("execution reverted: bank: approve failed") == "transfer_failed"
    assert classify("execution reverted: bank: nonce used") == "nonce_used"
    assert classify("out of gas") is None
    assert classify(None) is None
