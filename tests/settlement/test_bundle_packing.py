"""Bundles without a chain: packing within pushMany's limits, gas shares, the parts' encoding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.settlement import bundles
from backend.settlement.bundles import Part

SELECTOR = bytes.fromhex("deadbeef")


def _part(index: int, gas: int, size: int) -> Part:
    product_id = "0x" + index.to_bytes(32, "big").hex()
    return Part(product_id, gas, SELECTOR + bytes(size))


parts_strategy = st.lists(
    st.tuples(st.integers(1, bundles.MAX_PART_GAS), st.integers(0, 3_000)), max_size=150
).map(lambda specs: [_part(i, gas, size) for i, (gas, size) in enumerate(specs)])


@given(parts_strategy, st.integers(100_000, 10_000_000))
def test_pack__every_part_once_in_order_within_the_factory_limits(parts, budget):
    packed = bundles.pack(parts, budget)
    assert [part for bundle in packed for part in bundle] == parts
    for bundle in packed:
        assert 1 <= len(bundle) <= bundles.MAX_PARTS
        size = sum(bundles.PART_HEADER + len(part.calldata) for part in bundle)
        gas = sum(part.gas + bundles.PART_OVERHEAD_GAS for part in bundle)
        # a bundle only exceeds a limit when one part alone does
        assert len(bundle) == 1 or (size <= bundles.MAX_BYTES and gas <= budget)


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, bundles.MAX_PART_GAS), st.integers(0, 3_000)),
        max_size=150,
    ),
    st.integers(100_000, 10_000_000),
)
def test_pack__a_banks_consecutive_parts_share_a_bundle_whenever_they_fit_one(specs, budget):
    parts = [_part(bank, gas, size) for bank, gas, size in specs]
    packed = bundles.pack(parts, budget)
    assert [part for bundle in packed for part in bundle] == parts
    bundle_of = [index for index, bundle in enumerate(packed) for _ in bundle]
    start = 0
    while start < len(parts):  # each run of one bank's consecutive parts
        end = start
        while end + 1 < len(parts) and parts[end + 1].product_id == parts[start].product_id:
            end += 1
        run = parts[start : end + 1]
        size = sum(bundles.PART_HEADER + len(part.calldata) for part in run)
        gas = sum(part.gas + bundles.PART_OVERHEAD_GAS for part in run)
        if len(run) <= bundles.MAX_PARTS and size <= bundles.MAX_BYTES and gas <= budget:
            assert len(set(bundle_of[start : end + 1])) == 1, (start, end)
        start = end + 1


@given(st.lists(st.integers(0, 5), max_size=60))
def test_by_bank__each_banks_parts_together_in_their_order(banks):
    parts = [
        Part("0x" + bank.to_bytes(32, "big").hex(), 1 + i, SELECTOR) for i, bank in enumerate(banks)
    ]
    ordered = bundles.by_bank(parts)
    assert sorted(ordered, key=id) == sorted(parts, key=id)  # the same parts, each once
    seen: list[str] = []
    for part in ordered:
        if not seen or seen[-1] != part.product_id:
            assert part.product_id not in seen  # a bank's parts are never split
            seen.append(part.product_id)
    for bank in set(banks):
        mine = [p.gas for p in ordered if p.product_id == "0x" + bank.to_bytes(32, "big").hex()]
        assert mine == sorted(mine)  # in the order they were given


def test_fits__large_or_costly_batches_go_alone():
    assert bundles.fits(_part(1, bundles.MAX_PART_GAS, 100))
    assert not bundles.fits(_part(1, bundles.MAX_PART_GAS + 1, 100))
    assert not bundles.fits(_part(1, 100_000, bundles.MAX_BYTES))


def test_encode_parts__product_id_gas_length_calldata_per_part():
    first, second = _part(7, 90_000, 3), _part(9, 120_000, 0)
    encoded = bundles.encode_parts([first, second])
    expected = b""
    for part in (first, second):
        expected += bytes.fromhex(part.product_id[2:])
        expected += part.gas.to_bytes(32, "big") + len(part.calldata).to_bytes(32, "big")
        expected += part.calldata
    assert encoded == expected
    assert len(encoded) == 2 * bundles.PART_HEADER + 7 + 4


def _receipt(gas_used: int, nonces: list[bytes], other_logs: int = 0) -> dict:
    logs = [{"topics": [b"\x01" * 32], "data": b"\x00" * 32} for _ in range(other_logs)]
    logs += [
        {"topics": [bundles.REWARDS_PUSHED, b"\x02" * 32], "data": nonce + bytes(64)}
        for nonce in nonces
    ]
    return {"gasUsed": gas_used, "logs": logs}


@given(
    st.integers(21_000, 30_000_000),
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=64, unique=True),
    st.integers(0, 5),
)
def test_gas_share__the_batches_a_transaction_paid_share_exactly_its_gas(used, nonces, noise):
    receipt = _receipt(used, nonces, noise)
    shares = [bundles.gas_share(receipt, "0x" + nonce.hex()) for nonce in nonces]
    assert sum(shares) == used
    assert max(shares) - min(shares) <= used % len(nonces)
