"""The fraud business API: rules need the campaign_manager role, reviews are audited and
told to the owner's webhooks, hostile input is a 4xx with a code (never a 500)."""

from __future__ import annotations

from backend.fraud import signals
from backend.products.models import Role
from tests.conftest import TEST_SECRET
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, make_product, wallet
from tests.fraud.helpers import act
from tests.interactions.helpers import E18, bearer, count, rows
from tests.notifications.conftest import make_endpoint


def _url(product_id: str, tail: str = "") -> str:
    return f"/api/business/products/{product_id}/fraud{tail}"


async def test_rules__new_product__defaults_listed_and_on(client, db_session):
    product, key = await make_product(db_session)

    response = await client.get(_url(product.id), headers=bearer(key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customised"] is False
    assert [r["kind"] for r in body["rules"]] == [
        "shared_device",
        "shared_passkey",
        "referral_velocity",
        "deny_list",
    ]
    assert body["settings"]["default_decision"] == "reject"


async def test_rules__key_without_campaign_manager_role__403_and_nothing_written(
    client, db_session
):
    product, key = await make_product(db_session, roles=Role.INTERACTION_MANAGER)
    rule = {
        "kind": "min_purchase",
        "action": "reject",
        "reason_code": "small",
        "params": {"min_amount": "5"},
    }

    attempts = [
        await client.post(_url(product.id, "/rules"), json=rule, headers=bearer(key)),
        await client.patch(
            _url(product.id, "/rules/00000000-0000-0000-0000-000000000001"),
            json={"enabled": False},
            headers=bearer(key),
        ),
        await client.delete(
            _url(product.id, "/rules/00000000-0000-0000-0000-000000000001"), headers=bearer(key)
        ),
        await client.put(
            _url(product.id, "/settings"), json={"default_decision": "approve"}, headers=bearer(key)
        ),
        await client.post(
            _url(product.id, "/review"),
            json={"reward_ids": [1], "decision": "approve"},
            headers=bearer(key),
        ),
    ]

    for response in attempts:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "missing_role"
    assert await count(db_session, "SELECT count(*) FROM fraud_rules") == 0
    assert await count(db_session, "SELECT count(*) FROM fraud_settings") == 0
    assert await count(db_session, "SELECT count(*) FROM audit_log") == 0


async def test_rules__deny_listed_device__stored_hashed_and_its_rewards_refused(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="webshop.open")
    rule = {
        "kind": "deny_list",
        "action": "reject",
        "reason_code": "known_farm",
        "params": {"devices": ["farm-device"], "ips": ["10.0.0.1"]},
    }

    created = await client.post(_url(product.id, "/rules"), json=rule, headers=bearer(key))

    assert created.status_code == 201, created.text
    stored = created.json()["params"]
    assert stored["devices"] == [
        signals.keyed_hash(TEST_SECRET, "device", product.id, "farm-device")
    ]
    assert "farm-device" not in created.text and "10.0.0.1" not in created.text
    listed = (await client.get(_url(product.id), headers=bearer(key))).json()
    assert listed["customised"] is True
    assert len(listed["rules"]) == 5  # the defaults became the product's own, plus this one
    audit = await rows(db_session, "SELECT action, entity FROM audit_log")
    assert [(a.action, a.entity) for a in audit] == [("fraud_rule.create", "fraud_rule")]

    await act(clean_db, client, key, product.id, wallet(), "webshop.open", device="farm-device")
    await act(clean_db, client, key, product.id, wallet(), "webshop.open", device="home-laptop")
    await drain(clean_db)

    found = await rows(db_session, "SELECT status, cancelled_reason FROM rewards ORDER BY id")
    assert [(r.status, r.cancelled_reason) for r in found] == [
        ("cancelled", "fraud: known_farm"),
        ("pending", None),
    ]
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert used == 10 * E18


async def test_rules__edit_disable_and_delete__applied_and_audited(client, db_session):
    product, key = await make_product(db_session)
    listed = (
        await client.post(
            _url(product.id, "/rules"),
            json={"kind": "shared_ip", "action": "hold", "reason_code": "same_network"},
            headers=bearer(key),
        )
    ).json()

    patched = await client.patch(
        _url(product.id, f"/rules/{listed['id']}"),
        json={"action": "reject", "enabled": False},
        headers=bearer(key),
    )
    removed = await client.delete(_url(product.id, f"/rules/{listed['id']}"), headers=bearer(key))
    settings = await client.put(
        _url(product.id, "/settings"),
        json={"review_after_seconds": 3600, "default_decision": "approve"},
        headers=bearer(key),
    )

    assert patched.status_code == 200 and patched.json()["action"] == "reject"
    assert patched.json()["enabled"] is False
    assert removed.status_code == 204
    assert settings.json()["default_decision"] == "approve"
    audit = await rows(db_session, "SELECT action FROM audit_log ORDER BY id")
    assert [a.action for a in audit] == [
        "fraud_rule.create",
        "fraud_rule.update",
        "fraud_rule.delete",
        "fraud_settings.update",
    ]
    kinds = await rows(db_session, "SELECT kind FROM fraud_rules ORDER BY kind")
    assert "shared_ip" not in [k.kind for k in kinds]


async def test_hostile_input__every_new_endpoint__4xx_with_a_code_never_500(client, db_session):
    product, key = await make_product(db_session)
    rule_url = _url(product.id, "/rules")
    cases = [
        ("GET", _url("0x" + "ab" * 32), None),
        ("GET", _url("not-a-product%00"), None),
        ("PATCH", _url(product.id, "/rules/not-a-uuid"), {"enabled": True}),
        ("DELETE", _url(product.id, "/rules/00000000-0000-0000-0000-00000000000z"), None),
        ("POST", rule_url, {"kind": "teleport", "action": "hold", "reason_code": "x"}),
        ("POST", rule_url, {"kind": "min_purchase", "action": "hold", "reason_code": "a\x00b"}),
        (
            "POST",
            rule_url,
            {
                "kind": "wallet_earnings",
                "action": "hold",
                "reason_code": "big",
                "params": {"max_amount": "9" * 100},
            },
        ),
        (
            "POST",
            rule_url,
            {
                "kind": "wallet_earnings",
                "action": "hold",
                "reason_code": "big",
                "params": {"max_amount": "1", "devices": ["x"]},
            },
        ),
        (
            "POST",
            rule_url,
            {
                "kind": "deny_list",
                "action": "reject",
                "reason_code": "d",
                "params": {"devices": ["bad\x00device"]},
            },
        ),
        (
            "POST",
            rule_url,
            {
                "kind": "deny_list",
                "action": "reject",
                "reason_code": "d",
                "params": {"ips": ["999.1.1.1"]},
            },
        ),
        (
            "POST",
            rule_url,
            {
                "kind": "referral_velocity",
                "action": "hold",
                "reason_code": "v",
                "params": {"max_per_hour": 10**30},
            },
        ),
        ("POST", _url(product.id, "/review"), {"reward_ids": [2**70], "decision": "approve"}),
        ("POST", _url(product.id, "/review"), {"reward_ids": [], "decision": "approve"}),
        ("POST", _url(product.id, "/review"), {"reward_ids": [1], "decision": "maybe"}),
        (
            "POST",
            _url(product.id, "/review"),
            {"reward_ids": [1], "decision": "reject", "note": "nul\x00"},
        ),
        ("POST", _url(product.id, "/held/" + "9" * 5000 + "/approve"), None),
        ("POST", _url(product.id, "/held/-1/approve"), None),
        ("POST", _url(product.id, "/held/1/explode"), None),
        ("POST", _url(product.id, "/held/1/approve"), None),  # not held: 409
        ("PUT", _url(product.id, "/settings"), {"review_after_seconds": 2**80}),
    ]
    for method, url, body in cases:
        response = await client.request(method, url, json=body, headers=bearer(key))
        assert 400 <= response.status_code < 500, (url, body, response.status_code, response.text)
        assert response.json()["error"]["code"], (url, response.text)
    assert await count(db_session, "SELECT count(*) FROM fraud_rules") == 0
    assert await count(db_session, "SELECT count(*) FROM audit_log") == 0


async def test_review__bulk_approve_and_single_reject__audited_and_sent_as_webhooks(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="referral.referred")
    await make_endpoint(
        db_session,
        product,
        "https://hooks.example/x",
        events=("rewards.approved", "rewards.rejected"),
    )
    farmer, sock1, sock2 = wallet(), wallet(), wallet()
    await act(clean_db, client, key, product.id, farmer, "webshop.open", device="phone")
    for sock in (sock1, sock2):
        await act(
            clean_db,
            client,
            key,
            product.id,
            sock,
            "referral.referred",
            device="phone",
            referrer=farmer,
        )
    await drain(clean_db)
    queue = (await client.get(_url(product.id, "/held"), headers=bearer(key))).json()
    (group,) = queue["groups"]
    assert group["referrer"] == farmer
    assert group["reasons"] == ["shared_device"]
    assert {r["referee"] for r in group["rewards"]} == {sock1, sock2}
    assert all(r["shared_with_referrer"] == ["device"] for r in group["rewards"])
    assert {(e["wallet"], e["referrer"]) for e in group["graph"]} == {
        (sock1, farmer),
        (sock2, farmer),
    }
    first = sorted(r["id"] for r in group["rewards"] if r["referee"] == sock1)
    second = sorted(r["id"] for r in group["rewards"] if r["referee"] == sock2)

    approved = await client.post(
        _url(product.id, "/review"),
        json={"reward_ids": first, "decision": "approve", "note": "known customer"},
        headers=bearer(key),
    )
    rejected = await client.post(_url(product.id, f"/held/{second[0]}/reject"), headers=bearer(key))
    again = await client.post(_url(product.id, f"/held/{second[0]}/reject"), headers=bearer(key))

    assert approved.status_code == 200 and approved.json()["approved"] == first
    assert rejected.status_code == 200 and rejected.json()["rejected"] == [second[0]]
    assert again.status_code == 409 and again.json()["error"]["code"] == "reward_not_held"
    statuses = dict(
        (r.id, r.status) for r in await rows(db_session, "SELECT id, status FROM rewards")
    )
    assert [statuses[i] for i in first] == ["pending", "pending"]
    assert statuses[second[0]] == "cancelled"
    assert statuses[second[1]] == "held"  # reviewed one by one
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    )
    refunded = await count(db_session, "SELECT amount FROM rewards WHERE id = :id", id=second[0])
    assert used == 2 * 10 * E18 - refunded
    audit = await rows(db_session, "SELECT action, after FROM audit_log ORDER BY id")
    assert [a.action for a in audit] == ["reward.approve", "reward.reject"]
    assert audit[0].after["rewards"] == first and audit[0].after["note"] == "known customer"
    sent = await rows(
        db_session, "SELECT event_type, payload FROM webhook_deliveries ORDER BY created_at"
    )
    assert [d.event_type for d in sent] == ["rewards.approved", "rewards.rejected"]
    assert [r["reward_id"] for r in sent[0].payload["data"]["rewards"]] == first
