"""ProductBankFactory.pushMany: banks' signed batches in one transaction, each failing alone."""

from __future__ import annotations

from typing import Any

import ape
import pytest
from eth_utils import keccak

from backend.settlement.bundles import Part, bank_address, encode_parts
from tests.contracts.conftest import FUNDS, events, hexb, random_bytes32

PART_GAS = 300_000


@pytest.fixture
def banks(funded_banks):
    """Three banks of three products, each funded, its book filled, the campaign unlimited."""
    return funded_banks(3)


def _part(
    product_id: bytes,
    bank: Any,
    args: tuple[Any, ...],
    gas: int = PART_GAS,
    function: str = "pushRewards",
) -> Part:
    calldata = bytes(getattr(bank, function).encode_input(*args))
    return Part("0x" + product_id.hex(), gas, calldata)


def _push_many(factory: Any, parts: list[Part], sender: Any, **kwargs: Any) -> Any:
    return factory.pushMany(encode_parts(parts), sender=sender, **kwargs)


def test_push_many__pays_every_bank_in_one_transaction(
    factory, banks, push_pull, token, campaign_id, sign_batch, users, stranger
):
    signed = [
        sign_batch(bank, campaign_id, token, [(users[i], 10 + i)])
        for i, (_, bank) in enumerate(banks)
    ]
    # pushFewRewards and pushRewards parts side by side (the backend picks by batch size)
    functions = ["pushFewRewards", "pushRewards", "pushFewRewards"]
    parts = [
        _part(pid, bank, args, function=function)
        for (pid, bank), args, function in zip(banks, signed, functions, strict=True)
    ]
    receipt = _push_many(factory, parts, stranger)  # anyone may send signed batches
    assert receipt.return_value == 0b111
    for i, (_, bank) in enumerate(banks):
        assert push_pull.getPendingAmount(token, users[i]) == 10 + i
        assert push_pull.bookOf(bank, token) == FUNDS - 10 - i
        assert bank.nonceState(signed[i][3]) == 1
    pushed = [args for name, args in events(receipt) if name == "RewardsPushed"]
    assert [event["nonce"] for event in pushed] == [hexb(args[3]) for args in signed]


def test_push_many__a_failing_part_does_not_stop_the_others(
    factory, banks, push_pull, token, campaign_id, sign_batch, users, signer, stranger
):
    (_, first), (_, second), (_, third) = banks
    second.deactivateCampaign(campaign_id, sender=signer)
    signed = [sign_batch(bank, campaign_id, token, [(users[0], 5)]) for _, bank in banks]
    parts = [_part(pid, bank, args) for (pid, bank), args in zip(banks, signed, strict=True)]
    receipt = _push_many(factory, parts, stranger)
    assert receipt.return_value == 0b101
    assert push_pull.getPendingAmount(token, users[0]) == 10
    assert second.nonceState(signed[1][3]) == 0  # unused: it can still be cancelled or voided
    assert push_pull.bookOf(second, token) == FUNDS
    assert first.nonceState(signed[0][3]) == third.nonceState(signed[2][3]) == 1


def test_push_many__the_same_batch_twice_pays_once(
    factory, banks, push_pull, token, campaign_id, sign_batch, users, stranger
):
    product_id, bank = banks[0]
    args = sign_batch(bank, campaign_id, token, [(users[1], 9)])
    receipt = _push_many(factory, [_part(product_id, bank, args)] * 2, stranger)
    assert receipt.return_value == 0b01
    assert push_pull.getPendingAmount(token, users[1]) == 9
    assert push_pull.bookOf(bank, token) == FUNDS - 9


def test_push_many__a_product_without_a_bank_counts_as_not_paid(
    factory, banks, push_pull, token, campaign_id, sign_batch, users, stranger
):
    product_id, bank = banks[0]
    args = sign_batch(bank, campaign_id, token, [(users[2], 4)])
    ghost = _part(random_bytes32(), bank, args)  # a bank's calldata under an unused productId
    receipt = _push_many(factory, [ghost, _part(product_id, bank, args)], stranger)
    assert receipt.return_value == 0b10
    assert push_pull.getPendingAmount(token, users[2]) == 4


def test_push_many__forwards_only_push_rewards(factory, banks, signer, stranger):
    product_id, bank = banks[0]
    # a call the bank would accept from its owner; the factory never makes it
    calldata = bytes(bank.pause.encode_input())
    with ape.reverts("factory: not a push"):
        _push_many(factory, [Part("0x" + product_id.hex(), 50_000, calldata)], stranger)
    assert bank.paused() is False


def test_push_many__the_bank_address_comes_from_the_product_id(factory, banks, bank_initcode_hash):
    for product_id, bank in banks:
        predicted = bank_address(factory.address, "0x" + product_id.hex(), hexb(bank_initcode_hash))
        assert predicted == bank.address == factory.predictBankAddress(product_id)


@pytest.mark.parametrize(
    "parts",
    [
        b"\x00" * 95,  # a header cut short
        b"\x00" * 64 + (10).to_bytes(32, "big") + b"\x00" * 9,  # calldata shorter than its length
        b"\x00" * 64 + (2).to_bytes(32, "big") + b"\x00\x00",  # no room for a selector
    ],
)
def test_push_many__malformed_parts_revert(factory, stranger, parts):
    with ape.reverts("factory: bad parts"):
        factory.pushMany(parts, sender=stranger)


def test_push_many__more_than_64_parts_revert(factory, stranger):
    selector = keccak(text="pushRewards(bytes32,address,uint256[],bytes32,uint256,bytes)")[:4]
    ghost = Part("0x" + random_bytes32().hex(), 30_000, selector)
    with ape.reverts("factory: too many parts"):
        factory.pushMany(encode_parts([ghost] * 65), sender=stranger)
    receipt = factory.pushMany(encode_parts([ghost] * 64), sender=stranger)
    assert receipt.return_value == 0  # no bank behind any of them


def test_push_many__refuses_to_start_a_part_it_cannot_give_its_gas(
    factory, banks, push_pull, token, campaign_id, sign_batch, users, stranger
):
    signed = [sign_batch(bank, campaign_id, token, [(users[3], 6)]) for _, bank in banks[:2]]
    parts = [_part(pid, bank, args) for (pid, bank), args in zip(banks, signed, strict=False)]
    # enough for the first part's 300,000 but not, after it, for the second's
    with ape.reverts("factory: out of gas"):
        _push_many(factory, parts, stranger, gas=420_000)
    assert push_pull.getPendingAmount(token, users[3]) == 0
    receipt = _push_many(factory, parts, stranger, gas=800_000)
    assert receipt.return_value == 0b11


def test_push_many__costs_less_than_the_same_pushes_sent_alone(
    factory, banks, token, campaign_id, sign_batch, users, stranger
):
    alone = 0
    for _, bank in banks:
        args = sign_batch(bank, campaign_id, token, [(users[4], 3)])
        alone += bank.pushRewards(*args, sender=stranger).gas_used
    signed = [sign_batch(bank, campaign_id, token, [(users[4], 3)]) for _, bank in banks]
    parts = [_part(pid, bank, args) for (pid, bank), args in zip(banks, signed, strict=True)]
    bundled = _push_many(factory, parts, stranger).gas_used
    print(f"three one-reward pushes: alone {alone:,} gas, in one pushMany {bundled:,}")
    # two transaction base fees (2 x 21,000) saved, less pushMany's own work
    assert bundled < alone - 30_000, (bundled, alone)
