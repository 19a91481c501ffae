"""The fraud rules page: the defaults shown, rules added, switched, deleted and review
settings saved through the same operations as the API (role check, audit)."""

from __future__ import annotations

from backend.products.models import ProductMember, Role
from tests.dashboard.conftest import post_form, sign_in
from tests.factories import make_product, wallet
from tests.interactions.helpers import count, rows


async def test_fraud_page__defaults_then_add_switch_delete_and_settings(web, db_session, owner):
    product, _ = await make_product(db_session, owner=owner.address)
    await sign_in(web, db_session, owner.address)
    page_url = f"/dashboard/products/{product.id}/fraud"

    first = await web.get(page_url)
    added = await post_form(
        web,
        f"{page_url}/rules",
        {"kind": "deny_list", "action": "reject", "reason_code": "farm", "devices": "bad-phone"},
        page=page_url,
    )
    listed = await web.get(page_url)
    rule_id = (await rows(db_session, "SELECT id FROM fraud_rules WHERE reason_code = 'farm'"))[
        0
    ].id
    switched = await post_form(
        web, f"{page_url}/rules/{rule_id}", {"change": "disable"}, page=page_url
    )
    enabled = await count(db_session, "SELECT count(*) FROM fraud_rules WHERE enabled")
    deleted = await post_form(
        web, f"{page_url}/rules/{rule_id}", {"change": "delete"}, page=page_url
    )
    saved = await post_form(
        web,
        f"{page_url}/settings",
        {"review_after_hours": "2", "default_decision": "approve", "signal_retention_days": "30"},
        page=page_url,
    )

    assert first.status_code == 200 and "the defaults every new product starts with" in first.text
    assert first.text.count("<tr data-rule=") == 4
    assert added.status_code == switched.status_code == deleted.status_code == 303
    assert saved.status_code == 303
    assert listed.text.count("<tr data-rule=") == 5 and "bad-phone" not in listed.text
    assert enabled == 4  # the four defaults; the new rule switched off
    assert await count(db_session, "SELECT count(*) FROM fraud_rules") == 4
    settings = (await rows(db_session, "SELECT * FROM fraud_settings"))[0]
    assert (settings.review_after_seconds, settings.default_decision) == (7200, "approve")
    assert settings.signal_retention_days == 30
    audit = await rows(db_session, "SELECT action FROM audit_log ORDER BY id")
    assert [a.action for a in audit] == [
        "fraud_rule.create",
        "fraud_rule.update",
        "fraud_rule.delete",
        "fraud_settings.update",
    ]


async def test_fraud_page__bad_input__422_on_the_page_nothing_written(web, db_session, owner):
    product, _ = await make_product(db_session, owner=owner.address)
    await sign_in(web, db_session, owner.address)
    page_url = f"/dashboard/products/{product.id}/fraud"

    for data in (
        {"kind": "deny_list", "action": "reject", "reason_code": "Bad Code"},
        {"kind": "referral_velocity", "action": "hold", "reason_code": "v", "max_per_hour": "x"},
        {"kind": "teleport", "action": "hold", "reason_code": "t"},
        {"kind": "wallet_earnings", "action": "hold", "reason_code": "big"},
        {"kind": "deny_list", "action": "reject", "reason_code": "d", "ips": "not-an-ip"},
    ):
        response = await post_form(web, f"{page_url}/rules", data, page=page_url)
        assert response.status_code == 422, (data, response.status_code)
        assert 'id="error-summary"' in response.text
    bad_id = await post_form(web, f"{page_url}/rules/nope", {"change": "delete"}, page=page_url)
    assert bad_id.status_code == 404
    assert await count(db_session, "SELECT count(*) FROM fraud_rules") == 0
    assert await count(db_session, "SELECT count(*) FROM audit_log") == 0


async def test_fraud_page__member_without_campaign_manager__read_only_post_refused(
    web, db_session, owner
):
    product, _ = await make_product(db_session, owner=owner.address)
    viewer = wallet()
    db_session.add(
        ProductMember(product_id=product.id, wallet=viewer, roles=int(Role.INTERACTION_MANAGER))
    )
    await db_session.commit()
    await sign_in(web, db_session, viewer)
    page_url = f"/dashboard/products/{product.id}/fraud"

    page = await web.get(page_url)
    refused = await post_form(
        web,
        f"{page_url}/rules",
        {"kind": "shared_ip", "action": "hold", "reason_code": "ip"},
        page=page_url,
    )

    assert page.status_code == 200 and 'id="add-rule"' not in page.text
    assert refused.status_code == 403
    assert await count(db_session, "SELECT count(*) FROM fraud_rules") == 0


async def test_fraud_page__refund_history_rule_added_bad_count_refused(web, db_session, owner):
    product, _ = await make_product(db_session, owner=owner.address)
    await sign_in(web, db_session, owner.address)
    page_url = f"/dashboard/products/{product.id}/fraud"
    base = {"kind": "refund_history", "action": "hold", "reason_code": "refunder"}

    refused = [
        await post_form(web, f"{page_url}/rules", {**base, "min_refunded_orders": v}, page=page_url)
        for v in ("0", "-1", "1" + "0" * 30, "x")
    ]
    added = await post_form(
        web, f"{page_url}/rules", {**base, "min_refunded_orders": "2"}, page=page_url
    )

    assert [r.status_code for r in refused] == [422, 422, 422, 422]
    assert added.status_code == 303
    stored = await rows(db_session, "SELECT params FROM fraud_rules WHERE kind = 'refund_history'")
    assert [x.params for x in stored] == [{"min_refunded_orders": 2}]
