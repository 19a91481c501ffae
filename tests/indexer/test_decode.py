"""Decoding follows the compiled ABI; provider errors are sorted into what the loop does."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from indexer.decode import Decoder
from indexer.errors import FatalIndexerError, RangeTooLarge, RetryableError
from indexer.rpc import _result
from tests.factories import wallet


def _word(value: int | str) -> str:
    if isinstance(value, str):
        return "0x" + value[2:].lower().rjust(64, "0")
    return "0x" + format(value, "064x")


def _reward_added(token: str, user: str, emitter: str, amount: int, topics: int = 4) -> dict:
    topic0 = "0x" + keccak(text="RewardAdded(address,address,address,uint256)").hex()
    return {
        "address": "0x" + "11" * 20,
        "topics": [topic0, _word(token), _word(user), _word(emitter)][:topics],
        "data": _word(amount),
        "blockNumber": "0x10",
        "blockHash": "0x" + "aa" * 32,
        "blockTimestamp": "0x64",
        "transactionHash": "0x" + "bb" * 32,
        "logIndex": "0x3",
    }


def test_topics__come_from_the_compiled_abi():
    decoder = Decoder()
    signature = keccak(text="RewardAdded(address,address,address,uint256)").hex()
    assert "0x" + signature in decoder.push_pull
    assert {spec.name for spec in decoder.push_pull.values()} == {"RewardAdded", "RewardClaimed"}
    assert {"RewardsPushed", "Deposited", "Withdrawn", "CampaignBudgetAllocated"} <= {
        spec.name for spec in decoder.bank.values()
    }


def test_reward_added__decodes_to_a_row_with_checksummed_addresses():
    token, user, bank = wallet(), wallet(), wallet()
    row = Decoder().decode_all(
        [_reward_added(token.lower(), user.lower(), bank.lower(), 2**255 + 7)],
        push_pull="0x" + "11" * 20,
        factory="0x" + "22" * 20,
        banks=set(),
        timestamps={},
    )[0]
    assert (row.event, row.token, row.wallet, row.amount) == (
        "RewardAdded",
        token,
        user,
        2**255 + 7,
    )
    assert (row.block_number, row.log_index, row.block_timestamp) == (16, 3, 100)
    assert row.args == {"token": token, "user": user, "emitter": bank, "amount": str(2**255 + 7)}


def test_log_that_does_not_fit_the_abi__is_fatal_with_a_fix():
    log = _reward_added(wallet(), wallet(), wallet(), 1, topics=3)
    with pytest.raises(FatalIndexerError, match="redeploy or recompile"):
        Decoder().decode_all(
            [log], push_pull=log["address"], factory="0x" + "22" * 20, banks=set(), timestamps={}
        )


def test_logs_of_unknown_emitters__are_ignored():
    rows = Decoder().decode_all(
        [_reward_added(wallet(), wallet(), wallet(), 1)],
        push_pull="0x" + "33" * 20,
        factory="0x" + "22" * 20,
        banks=set(),
        timestamps={},
    )
    assert rows == []


@pytest.mark.parametrize(
    "error",
    [
        {"code": -32005, "message": "query returned more than 10000 results"},
        {"code": -32602, "message": "Log response size exceeded. You can make eth_getLogs..."},
        {"code": -32000, "message": "block range is too large"},
        {"code": -32000, "message": "exceed maximum block range: 50000"},
    ],
)
def test_provider_range_errors__shrink_the_range(error):
    with pytest.raises(RangeTooLarge):
        _result("eth_getLogs", {"error": error})


def test_other_rpc_errors__are_retryable():
    with pytest.raises(RetryableError) as caught:
        _result("eth_getLogs", {"error": {"code": -32000, "message": "header not found"}})
    assert not isinstance(caught.value, RangeTooLarge)
