"""The chain cache: bounded, never stores a chain read before an edge landed, and is what a
second read of a chain is served from."""

from __future__ import annotations

from backend.referrals import service as referrals
from backend.referrals.service import ChainCache
from tests.factories import make_product, wallet
from tests.interactions.helpers import refer, send

P = "0x" + "ab" * 32


def test_chain_cache__more_chains_than_max_entries__least_recent_evicted_rest_kept():
    cache = ChainCache(max_entries=2)
    cache.put(P, "a", ("r1",), cache.generation(P))
    cache.put(P, "b", ("r2",), cache.generation(P))
    assert cache.get(P, "a") == ("r1",)  # a is now the most recent

    cache.put(P, "c", ("r3",), cache.generation(P))

    assert (cache.get(P, "a"), cache.get(P, "b"), cache.get(P, "c")) == (("r1",), None, ("r3",))
    assert len(cache) == 2


def test_chain_cache__chain_read_before_an_edge_landed__not_stored():
    cache = ChainCache()
    read_at = cache.generation(P)
    cache.edge_added(P, "r1")  # committed while the read was in flight

    cache.put(P, "a", ("r1",), read_at)

    assert cache.get(P, "a") is None


def test_chain_cache__another_process_then_this_one_add_edges__read_before_both_not_stored():
    cache = ChainCache()
    read_at = cache.generation(P)
    cache.forget_product(P)  # an edge committed by another process
    cache.edge_added(P, "r2")  # and one by this process: the generation must not come back

    cache.put(P, "a", ("r1",), read_at)

    assert cache.get(P, "a") is None


def test_chain_cache__edge_added__drops_every_chain_through_that_wallet_only():
    cache = ChainCache()
    for start, chain in (("a", ("m",)), ("b", ("x", "m")), ("c", ("y",))):
        cache.put(P, start, chain, cache.generation(P))

    cache.edge_added(P, "m")

    assert (cache.get(P, "a"), cache.get(P, "b"), cache.get(P, "c")) == (None, None, ("y",))


async def test_chain__read_once__next_read_served_from_the_cache(client, db_session):
    product, key = await make_product(db_session)
    referrer, user = wallet(), wallet()
    await send(client, key, product.id, referrer, "referral.link_creation")
    await refer(client, key, product.id, user, referrer)
    referrals.chain_cache.clear()

    assert await referrals.chain(db_session, product.id, user) == [referrer]

    assert referrals.chain_cache.get(product.id, user) == (referrer,)


async def test_chain__depth_0_1_2__none_nearest_then_both(client, db_session):
    product, key = await make_product(db_session)
    top, middle, user = wallet(), wallet(), wallet()
    await send(client, key, product.id, top, "referral.link_creation")
    await refer(client, key, product.id, middle, top)
    await refer(client, key, product.id, user, middle)

    depths = [await referrals.chain(db_session, product.id, user, depth) for depth in (0, 1, 2)]

    assert depths == [[], [middle], [middle, top]]


def test_chain_cache__cleared_then_an_edge__read_before_both_not_stored():
    cache = ChainCache()
    read_at = cache.generation(P)
    cache.clear()  # a listener reconnected: anything may have been missed
    cache.edge_added(P, "r2")

    cache.put(P, "a", ("r1",), read_at)

    assert cache.get(P, "a") is None
