"""Referral graph: first valid referrer wins, bad referrers are flagged, chains never loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.campaigns.snapshots import invalidate_product_campaigns
from backend.referrals import service as referrals
from backend.referrals.tokens import TokenError, read_token, sign_token
from tests.conftest import TEST_SECRET
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, bearer, count, make_session, refer, rows, send


async def _known(client, key, product_id, *wallets):
    for member in wallets:
        response = await send(client, key, product_id, member, "referral.link_creation")
        assert response.status_code == 202


async def test_chain_of_depth_7__max_depth_5_campaign__pays_exactly_six_rows(client, db_session):
    product, key = await make_product(db_session)
    people = [wallet() for _ in range(8)]  # people[0] refers people[1] ... people[7] buys
    await _known(client, key, product.id, people[0])
    for referrer, referred in zip(people, people[1:], strict=False):
        assert (await refer(client, key, product.id, referred, referrer)).json()["flag"] is None
    campaign = await make_campaign(db_session, product, max_depth=5)
    invalidate_product_campaigns(product.id)

    response = await send(
        client, key, product.id, people[7], "purchase.completed", {"order_id": "o-1"}
    )

    paid = [(r["level"], r["wallet"], int(r["amount"])) for r in response.json()["rewards"]]
    # B = 10 tokens, user 50%, decay 80%, five referrers: 5, 4, 0.8, 0.16, 0.032, 0.008
    assert paid == [
        (0, people[7], 5 * E18),
        (1, people[6], 4 * E18),
        (2, people[5], 8 * E18 // 10),
        (3, people[4], 16 * E18 // 100),
        (4, people[3], 32 * E18 // 1000),
        (5, people[2], 8 * E18 // 1000),
    ]
    assert sum(a for _, _, a in paid) == 10 * E18
    stored = await rows(
        db_session,
        "SELECT level, wallet, amount, status FROM rewards WHERE campaign_id = :c ORDER BY level",
        c=campaign.id,
    )
    assert [(r.level, r.wallet, int(r.amount)) for r in stored] == paid
    assert {r.status for r in stored} == {"pending"}


async def test_chain__depth_7__returns_nearest_five(db_session, client):
    product, key = await make_product(db_session)
    people = [wallet() for _ in range(8)]
    await _known(client, key, product.id, people[0])
    for referrer, referred in zip(people, people[1:], strict=False):
        await refer(client, key, product.id, referred, referrer)

    found = await referrals.chain(db_session, product.id, people[7])

    assert found == [people[6], people[5], people[4], people[3], people[2]]
    assert await referrals.chain(db_session, product.id, people[7], 2) == people[6:4:-1]


async def test_referral__self__is_stored_flagged_and_earns_nothing(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    user = wallet()
    await _known(client, key, product.id, user)

    response = await refer(client, key, product.id, user, user)

    assert response.status_code == 202
    assert response.json()["flag"] == "self_referral"
    assert response.json()["referral"] == {"recorded": False, "reason": "self_referral"}
    assert response.json()["rewards"] == []
    assert await count(db_session, "SELECT count(*) FROM rewards") == 0
    assert await count(db_session, "SELECT count(*) FROM interactions WHERE flag IS NOT NULL") == 1


async def test_referral__closing_a_cycle__is_flagged(client, db_session):
    product, key = await make_product(db_session)
    a, b, c = wallet(), wallet(), wallet()
    await _known(client, key, product.id, a)
    await refer(client, key, product.id, b, a)
    await refer(client, key, product.id, c, b)

    response = await refer(client, key, product.id, a, c)  # a <- c would close a -> b -> c -> a

    assert response.json()["flag"] == "referral_cycle"
    assert await referrals.chain(db_session, product.id, a) == []


async def test_referral__referrer_new_to_the_product__is_recorded(client, db_session):
    """A merchant importing its referral program names referrers who never visited yet."""
    product, key = await make_product(db_session)
    other, other_key = await make_product(db_session)
    referrer, user = wallet(), wallet()
    await _known(client, other_key, other.id, referrer)  # known elsewhere only

    response = await refer(client, key, product.id, user, referrer)

    assert response.status_code == 202
    assert response.json()["flag"] is None
    assert response.json()["referral"] == {"recorded": True, "reason": None}
    assert await referrals.chain(db_session, product.id, user) == [referrer]


async def test_referral__token_of_another_product__is_flagged(client, db_session):
    product, key = await make_product(db_session)
    other, _ = await make_product(db_session)
    referrer = wallet()
    await _known(client, key, product.id, referrer)
    token, _ = sign_token(TEST_SECRET, other.id, referrer)

    response = await send(
        client, key, product.id, wallet(), "referral.referred", {"referrer_token": token}
    )

    assert response.json()["flag"] == "cross_product_referrer"
    assert response.json()["referral"] == {"recorded": False, "reason": "cross_product_referrer"}


async def test_referral__second_referrer__first_one_wins(client, db_session):
    product, key = await make_product(db_session)
    first, second, user = wallet(), wallet(), wallet()
    await _known(client, key, product.id, first, second)

    accepted = await refer(client, key, product.id, user, first)
    refused = await refer(client, key, product.id, user, second)

    assert accepted.json()["flag"] is None
    assert accepted.json()["referral"] == {"recorded": True, "reason": None}
    assert refused.status_code == 202
    assert refused.json()["flag"] == "already_referred"
    assert refused.json()["referral"] == {"recorded": False, "reason": "already_referred"}
    assert await referrals.chain(db_session, product.id, user) == [first]


async def test_referral__session_with_token__links_the_referrer(client, db_session):
    product, key = await make_product(db_session)
    referrer, user = wallet(), wallet()
    await _known(client, key, product.id, referrer)
    token, _ = sign_token(TEST_SECRET, product.id, referrer)
    session_token = await make_session(db_session, user)

    response = await send(
        client, session_token, product.id, user, "referral.referred", {"referrer_token": token}
    )

    assert response.status_code == 202
    assert response.json()["flag"] is None
    assert await referrals.chain(db_session, product.id, user) == [referrer]


async def test_referral__forged_token__is_422_invalid_referral(client, db_session):
    product, key = await make_product(db_session)
    token, _ = sign_token("another-secret", product.id, wallet())

    response = await send(
        client, key, product.id, wallet(), "referral.referred", {"referrer_token": token}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_referral"
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_referral__session_with_plain_referrer__is_refused(client, db_session):
    product, _ = await make_product(db_session)
    user = wallet()
    session_token = await make_session(db_session, user)

    response = await send(
        client, session_token, product.id, user, "referral.referred", {"referrer": wallet()}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_referral"


async def test_chain__loop_written_behind_the_service__still_terminates(db_session):
    product, _ = await make_product(db_session)
    a, b = wallet(), wallet()
    for member, referrer in ((a, b), (b, a)):  # a raw cycle the service would refuse
        await db_session.execute(
            text(
                "INSERT INTO referral_edges (product_id, wallet, referrer_wallet, "
                "interaction_id, referred_at) VALUES (:p, :w, :r, 0, now())"
            ),
            {"p": product.id, "w": member, "r": referrer},
        )
    await db_session.commit()

    assert await referrals.chain(db_session, product.id, a) == [b]


async def test_chain_cache__new_edge_upstream__is_seen_at_once(client, db_session):
    product, key = await make_product(db_session)
    root, middle, leaf = wallet(), wallet(), wallet()
    await _known(client, key, product.id, middle)
    await refer(client, key, product.id, leaf, middle)
    assert await referrals.chain(db_session, product.id, leaf) == [middle]  # cached now
    await _known(client, key, product.id, root)

    await refer(client, key, product.id, middle, root)

    assert await referrals.chain(db_session, product.id, leaf) == [middle, root]


async def test_chain_cache__rolled_back_edge__is_not_cached(db_session, client):
    product, key = await make_product(db_session)
    referrer, user = wallet(), wallet()
    await _known(client, key, product.id, referrer)
    await db_session.execute(
        text(
            "INSERT INTO referral_edges (product_id, wallet, referrer_wallet, "
            "interaction_id, referred_at) VALUES (:p, :w, :r, 0, now())"
        ),
        {"p": product.id, "w": user, "r": referrer},
    )
    product_id = product.id  # the ORM object expires on rollback
    inside = await referrals.chains(db_session, product_id, [user], use_cache=False)
    await db_session.rollback()

    assert inside[user] == (referrer,)
    assert await referrals.chain(db_session, product_id, user) == []


def test_token__round_trip__carries_product_referrer_and_expiry():
    product_id, referrer = "0x" + "ab" * 32, wallet()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    token, expires_at = sign_token("s", product_id, referrer, now=now)
    parsed = read_token("s", token, now=now)

    assert (parsed.product_id, parsed.referrer) == (product_id, referrer)
    assert parsed.expires_at == expires_at == now + timedelta(days=30)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), "forged"),
        (lambda t: "***" + t, "malformed"),
        (lambda t: t[:20], "malformed"),
    ],
)
def test_token__tampered__is_refused(mutate, code):
    token, _ = sign_token("s", "0x" + "ab" * 32, wallet())

    with pytest.raises(TokenError) as caught:
        read_token("s", mutate(token))

    assert caught.value.code == code


def test_token__past_expiry__is_refused():
    token, _ = sign_token("s", "0x" + "ab" * 32, wallet(), now=datetime(2020, 1, 1, tzinfo=UTC))

    with pytest.raises(TokenError) as caught:
        read_token("s", token)

    assert caught.value.code == "expired"


async def test_referral_link__session__signs_token_and_records_link_creation(client, db_session):
    product, _ = await make_product(db_session, domain="shop.example")
    user = wallet()
    session_token = await make_session(db_session, user)

    response = await client.post(
        "/api/external/referral-links",
        json={"product_id": product.id, "wallet": user, "url": "https://shop.example/p?x=1"},
        headers=bearer(session_token),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["link"] == f"https://shop.example/p?x=1&cascade={body['token']}"
    lookup = await client.get(f"/api/external/referral-tokens/{body['token']}")
    assert lookup.status_code == 200
    assert lookup.json()["product_id"] == product.id
    assert lookup.json()["referrer"] == user
    assert lookup.json()["expires_at"].endswith("Z")
    assert (
        await count(
            db_session,
            "SELECT count(*) FROM interactions WHERE type = 'referral.link_creation' "
            "AND wallet = :w",
            w=user,
        )
        == 1
    )


async def test_referral_link__url_on_foreign_origin__is_422(client, db_session):
    product, key = await make_product(db_session, domain="shop2.example")

    response = await client.post(
        "/api/external/referral-links",
        json={"product_id": product.id, "wallet": wallet(), "url": "https://evil.example/"},
        headers=bearer(key),
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "url_not_allowed"


async def test_referral_token_lookup__forged_is_404_malformed_is_422(client):
    forged, _ = sign_token("not-the-server-secret", "0x" + "ab" * 32, wallet())

    assert (await client.get(f"/api/external/referral-tokens/{forged}")).status_code == 404
    assert (await client.get("/api/external/referral-tokens/short")).status_code == 422


async def test_referral__retried_with_its_dedup_key__answers_what_the_original_did(
    client, db_session
):
    product, key = await make_product(db_session)
    referrer, user = wallet(), wallet()
    data = {"referrer": referrer}

    first = await send(client, key, product.id, user, "referral.referred", data, dedup_key="l-1")
    again = await send(client, key, product.id, user, "referral.referred", data, dedup_key="l-1")
    self_ref = await send(
        client,
        key,
        product.id,
        referrer,
        "referral.referred",
        {"referrer": referrer},
        dedup_key="l-2",
    )
    self_again = await send(
        client,
        key,
        product.id,
        referrer,
        "referral.referred",
        {"referrer": referrer},
        dedup_key="l-2",
    )

    assert again.json()["duplicate"] is True
    assert (
        again.json()["referral"] == first.json()["referral"] == {"recorded": True, "reason": None}
    )
    assert self_again.json()["duplicate"] is True
    assert (
        self_again.json()["referral"]
        == self_ref.json()["referral"]
        == {
            "recorded": False,
            "reason": "self_referral",
        }
    )
