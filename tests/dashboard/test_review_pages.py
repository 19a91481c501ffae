"""The review queue page: held rewards grouped by referrer with their evidence; approve or
reject one, the selected ones or a group, through the same operations as the API."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from backend.products.models import ProductMember, Role
from tests.dashboard.conftest import post_form, sign_in
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, count, rows


async def send(web: httpx.AsyncClient, key: str, product_id: str, who: str, kind: str, **data):
    response = await web.post(
        "/api/external/interactions",
        json={
            "product_id": product_id,
            "wallet": who,
            "type": kind,
            **({"data": data} if data else {}),
        },
        headers={"Authorization": f"Bearer {key}", "Cascade-Device-Id": "farm-phone"},
    )
    assert response.status_code == 202, response.text


async def held_shop(web, db_session, clean_db, owner: str):
    """A product whose farmer referred two wallets from its own phone: four held rewards."""
    product, key = await make_product(db_session, owner=owner, name="Farm shop")
    campaign = await make_campaign(db_session, product, trigger="referral.referred")
    farmer, socks = wallet(), [wallet(), wallet()]
    await send(web, key, product.id, farmer, "webshop.open")
    for sock in socks:
        await send(web, key, product.id, sock, "referral.referred", referrer=farmer)
    await drain(clean_db)
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'held'") == 4
    return product, campaign, farmer, socks


async def test_review_page__groups_by_referrer_with_evidence_and_graph(
    web, db_session, clean_db, owner
):
    product, _, farmer, socks = await held_shop(web, db_session, clean_db, owner.address)
    await sign_in(web, db_session, owner.address)

    page = await web.get(f"/dashboard/products/{product.id}/review")

    assert page.status_code == 200, page.text
    html = page.text
    assert f'data-referrer="{farmer}"' in html
    assert html.count('name="reward_id"') == 4
    assert "shared device" in html  # the reason badge
    assert "device" in html and "3 wallets on the referee's device" in html
    assert html.count(" referred ") == 2  # the graph: farmer -> each sock
    assert "farm-phone" not in html  # a signal is never shown
    product_page = await web.get(f"/dashboard/products/{product.id}/audit")
    assert f'href="/dashboard/products/{product.id}/review"' in product_page.text


async def test_review_page__approve_one_then_reject_the_rest_of_the_group(
    web, db_session, clean_db, owner
):
    product, campaign, _, _ = await held_shop(web, db_session, clean_db, owner.address)
    await sign_in(web, db_session, owner.address)
    ids = [r.id for r in await rows(db_session, "SELECT id FROM rewards ORDER BY id")]
    review = f"/dashboard/products/{product.id}/review"

    one = await post_form(web, review, {"action": f"approve:{ids[0]}"})
    rest = await post_form(web, review, {"action": "reject-group", "group_id": ids, "note": "farm"})

    assert one.status_code == 303 and one.headers["location"].endswith("?done=1")
    assert rest.status_code == 303 and rest.headers["location"].endswith("?done=3")
    found = await rows(db_session, "SELECT id, status FROM rewards ORDER BY id")
    assert [r.status for r in found] == ["pending", "cancelled", "cancelled", "cancelled"]
    kept = await count(db_session, "SELECT amount FROM rewards WHERE id = :id", id=ids[0])
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert 0 < kept and used < 10 * E18  # only what the approved reward's interaction keeps
    audit = await rows(db_session, "SELECT actor, action FROM audit_log ORDER BY id")
    assert [(a.actor, a.action) for a in audit] == [
        (f"wallet:{owner.address}", "reward.approve"),
        (f"wallet:{owner.address}", "reward.reject"),
    ]
    empty = await web.get(review + "?done=3")
    assert "3 rewards reviewed." in empty.text
    assert "Nothing waits for a review." in empty.text  # the approved one is pending now


async def test_review_page__member_without_campaign_manager__sees_no_buttons_post_refused(
    web, db_session, clean_db, owner
):
    product, _, _, _ = await held_shop(web, db_session, clean_db, owner.address)
    viewer = wallet()
    db_session.add(
        ProductMember(product_id=product.id, wallet=viewer, roles=int(Role.INTERACTION_MANAGER))
    )
    await db_session.commit()
    await sign_in(web, db_session, viewer)
    review = f"/dashboard/products/{product.id}/review"
    ids = [r.id for r in await rows(db_session, "SELECT id FROM rewards ORDER BY id")]

    page = await web.get(review)
    refused = await post_form(web, review, {"action": f"approve:{ids[0]}"})

    assert page.status_code == 200 and 'value="approve-group"' not in page.text
    assert refused.status_code == 403
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'held'") == 4


async def test_review_page__junk_ids__422_and_nothing_changes(web, db_session, clean_db, owner):
    product, _, _, _ = await held_shop(web, db_session, clean_db, owner.address)
    await sign_in(web, db_session, owner.address)
    review = f"/dashboard/products/{product.id}/review"

    for data in (
        {"action": "approve-selected"},
        {"action": "approve:" + "9" * 40},
        {"action": "reject-selected", "reward_id": ["1", "x\x00"]},
        {"action": "explode"},
    ):
        response = await post_form(web, review, data)
        assert response.status_code == 422, (data, response.status_code)
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'held'") == 4


async def test_campaign_page__under_review_amount_and_fraud_by_rule(
    web, db_session, clean_db, owner
):
    _, campaign, _, _ = await held_shop(web, db_session, clean_db, owner.address)
    await sign_in(web, db_session, owner.address)

    page = await web.get(f"/dashboard/campaigns/{campaign.id}")

    assert page.status_code == 200, page.text
    html = page.text
    held = html.split('data-metric="held">', 1)[1].split("</span>", 1)[0]
    assert held.startswith("20")  # two referrals of 10 tokens each, all held
    assert "4 rewards · 100.0% ever held" in html
    table = html.split('data-testid="fraud-by-rule"', 1)[1]
    assert '<code>shared_device</code></td><td>held</td><td class="num">4</td>' in table


async def test_review_page__referee_with_refunded_orders__shown_as_evidence(
    web, db_session, clean_db, owner
):
    product, _, _, socks = await held_shop(web, db_session, clean_db, owner.address)
    for order in ("r-1", "r-2"):  # the first sock's earlier orders, refunded by the shop
        await db_session.execute(
            text(
                "INSERT INTO orders (product_id, order_id, wallet, status) "
                "VALUES (:p, :o, :w, 'refunded')"
            ),
            {"p": product.id, "o": order, "w": socks[0]},
        )
    await db_session.commit()
    await sign_in(web, db_session, owner.address)

    page = await web.get(f"/dashboard/products/{product.id}/review")

    assert page.status_code == 200, page.text
    # both of the first sock's held rewards (its own and its referrer's share) say so
    assert page.text.count("2 refunded orders by the referee") == 2
    assert page.text.count("refunded order") == 2  # the other sock's rewards: no such line
