"""Dashboard pages without a browser: sign-in redirect, CSRF, forms and their inline errors.

These are the pages as a browser with JavaScript disabled sees them.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select, update

from backend.campaigns.models import Campaign
from backend.products.models import Product, ProductMember
from tests.dashboard.conftest import csrf_of, post_form, sign_in
from tests.factories import make_campaign, make_product, make_token, wallet


async def test_dashboard__signed_out__redirects_to_the_login_page(web):
    for path in ("/dashboard", "/dashboard/products/0x" + "00" * 32 + "/bank"):
        response = await web.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/login"
    login = await web.get("/dashboard/login")
    assert login.status_code == 200
    assert "Sign in with a passkey" in login.text
    assert "<noscript>" in login.text  # says why the ceremony needs JavaScript


async def test_login_link__opens_the_dashboard_and_lists_owned_and_member_products(
    web, db_session, owner
):
    owned, _ = await make_product(db_session, owner=owner.address, name="Owned shop")
    shared, _ = await make_product(db_session, name="Shared shop")
    await make_product(db_session, name="Someone else's shop")
    db_session.add(ProductMember(product_id=shared.id, wallet=owner.address, roles=2))
    await db_session.commit()
    await sign_in(web, db_session, owner.address)

    page = await web.get("/dashboard")

    assert page.status_code == 200
    assert "Owned shop" in page.text and "Shared shop" in page.text
    assert "Someone else" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


async def test_post_without_csrf_token__refused_and_nothing_written(web, db_session, owner):
    await sign_in(web, db_session, owner.address)

    missing = await web.post("/dashboard/products", data={"name": "X", "domains": "x.example"})
    forged = await web.post(
        "/dashboard/products", data={"name": "X", "domains": "x.example", "csrf_token": "0" * 64}
    )

    assert missing.status_code == 403 and forged.status_code == 403
    assert "security token" in missing.text
    assert await db_session.scalar(select(func.count()).select_from(Product)) == 0


async def test_csrf_token__belongs_to_the_session(web, db_session, owner):
    """A token from another session (another user's page) does not pass."""
    await sign_in(web, db_session, owner.address)
    first = csrf_of((await web.get("/dashboard")).text)
    await sign_in(web, db_session, wallet())  # a new cookie: a new session

    response = await web.post(
        "/dashboard/products", data={"name": "X", "domains": "x.example", "csrf_token": first}
    )

    assert response.status_code == 403


async def test_create_product__shows_the_admin_key_once(web, db_session, owner):
    await sign_in(web, db_session, owner.address)

    response = await post_form(
        web,
        "/dashboard/products",
        {"name": "My shop", "domains": "my-shop.example\nwww.my-shop.example"},
        page="/dashboard",
    )

    assert response.status_code == 201, response.text
    assert re.search(r'value="csk_[^"]+"', response.text), "the key is shown"
    product = await db_session.scalar(select(Product))
    assert product is not None and product.owner_wallet == owner.address
    assert product.domains == ["my-shop.example", "www.my-shop.example"]
    listing = (await web.get("/dashboard")).text
    assert "My shop" in listing and "csk_" not in listing


async def test_create_product__bad_domain__422_with_the_message_next_to_the_field(
    web, db_session, owner
):
    await sign_in(web, db_session, owner.address)

    response = await post_form(
        web, "/dashboard/products", {"name": "Shop", "domains": "not a host"}, page="/dashboard"
    )

    assert response.status_code == 422
    assert 'id="e-domains"' in response.text and "host name" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "not a host" in response.text  # the input is kept


async def _product_with_token(db_session, owner, **fields):
    product, _ = await make_product(db_session, owner=owner.address, **fields)
    token = await make_token(db_session, product)
    return product, token


async def test_create_campaign__invalid_fields__inline_errors_then_success(web, db_session, owner):
    product, token = await _product_with_token(db_session, owner)
    await sign_in(web, db_session, owner.address)
    form_page = f"/dashboard/products/{product.id}/campaigns/new"
    base = {
        "name": "Spring",
        "trigger": "purchase.completed",
        "token": token.address,
        "reward_type": "fixed",
        "reward_amount": "1000",
        "user_bps": "5000",
        "decay_bps": "8000",
        "max_depth": "3",
        "budget_cap": "100000",
        "budget_period": "total",
        "period_cap": "0",
        "lockup_seconds": "0",
    }
    path = f"/dashboard/products/{product.id}/campaigns"

    bad_trigger = await post_form(web, path, {**base, "trigger": "Not A Trigger"}, page=form_page)
    bad_bps = await post_form(web, path, {**base, "user_bps": "20000"}, page=form_page)
    bad_period = await post_form(web, path, {**base, "budget_period": "daily"}, page=form_page)
    bad_number = await post_form(web, path, {**base, "max_depth": "three"}, page=form_page)

    for response, field in (
        (bad_trigger, "trigger"),
        (bad_bps, "user_bps"),
        (bad_period, "period_cap"),
        (bad_number, "max_depth"),
    ):
        assert response.status_code == 422, (field, response.text[:300])
        assert f'id="e-{field}"' in response.text, field
    assert "must be positive for a daily budget_period" in bad_period.text
    assert await db_session.scalar(select(func.count()).select_from(Campaign)) == 0

    created = await post_form(web, path, base, page=form_page)

    assert created.status_code == 303
    campaign = await db_session.scalar(select(Campaign))
    assert campaign is not None and campaign.status == "draft" and campaign.max_depth == 3
    assert created.headers["location"] == f"/dashboard/campaigns/{campaign.id}"


async def test_edit_campaign__form_round_trips_every_field(web, db_session, owner):
    product, token = await _product_with_token(db_session, owner)
    campaign = await make_campaign(
        db_session,
        product,
        token=token.address,
        status="draft",
        reward_type="range",
        reward_config={"start": "10", "end": "90", "beta_bps": 30000},
        max_rewards_per_user=4,
    )
    await sign_in(web, db_session, owner.address)
    page = f"/dashboard/campaigns/{campaign.id}/edit"
    html = (await web.get(page)).text
    assert 'value="90"' in html and 'value="30000"' in html and 'value="4"' in html

    response = await post_form(
        web,
        f"/dashboard/campaigns/{campaign.id}",
        {
            "version": str(campaign.version),
            "name": "Renamed",
            "trigger": "purchase.completed",
            "token": token.address,
            "reward_type": "tiered",
            "reward_tiers": "100 5\n1000 60",
            "user_bps": "6000",
            "decay_bps": "5000",
            "max_depth": "2",
            "requires_referral": "on",
            "max_rewards_per_user": "",
            "budget_cap": "0",
            "budget_period": "weekly",
            "period_cap": "500",
            "lockup_seconds": "3600",
            "starts_at": "2030-01-01T10:00",
            "ends_at": "",
        },
        page=page,
    )

    assert response.status_code == 303, response.text
    await db_session.refresh(campaign)
    assert (campaign.name, campaign.reward_type, campaign.requires_referral) == (
        "Renamed",
        "tiered",
        True,
    )
    assert campaign.reward_config["tiers"][1] == {"min_amount": "1000", "amount": "60"}
    assert campaign.max_rewards_per_user is None and campaign.period_cap == 500
    assert campaign.starts_at is not None and campaign.starts_at.isoformat().startswith("2030")


async def test_edit_campaign__settlement_cadence__saved_shown_and_refused_inline(
    web, db_session, owner
):
    product, token = await _product_with_token(db_session, owner)
    campaign = await make_campaign(db_session, product, token=token.address, status="active")
    await sign_in(web, db_session, owner.address)
    page = f"/dashboard/campaigns/{campaign.id}/edit"
    html = (await web.get(page)).text
    assert '<option value="0" selected>As soon as possible</option>' in html
    form = {
        "version": str(campaign.version),
        "name": campaign.name,
        "trigger": campaign.trigger,
        "reward_type": "fixed",
        "reward_amount": "1000",
        "user_bps": "5000",
        "decay_bps": "8000",
        "max_depth": "5",
        "budget_cap": "0",
        "period_cap": "0",
        "lockup_seconds": "0",
    }
    path = f"/dashboard/campaigns/{campaign.id}"

    refused = await post_form(
        web, path, {**form, "settle_max_wait_s": "0", "settle_min_rewards": "20"}, page=page
    )
    saved = await post_form(
        web,
        path,
        {**form, "settle_max_wait_s": "86400", "settle_min_rewards": "20"},
        page=page,
    )

    assert refused.status_code == 422 and 'id="e-settle_max_wait_s"' in refused.text
    assert saved.status_code == 303, saved.text[:300]
    await db_session.refresh(campaign)
    assert (campaign.settle_max_wait_s, campaign.settle_min_rewards) == (86_400, 20)
    assert campaign.settle_min_amount is None
    html = (await web.get(page)).text
    assert '<option value="86400" selected>Daily' in html and 'value="20"' in html
    # a wait set through the API that the list does not offer stays what it is
    await db_session.execute(
        update(Campaign).where(Campaign.id == campaign.id).values(settle_max_wait_s=7200)
    )
    await db_session.commit()
    html = (await web.get(page)).text
    assert '<option value="7200" selected>At the latest after 7200 seconds' in html


async def test_campaign_page__charts_are_accessible_svg_without_javascript(web, db_session, owner):
    product, token = await _product_with_token(db_session, owner)
    campaign = await make_campaign(db_session, product, token=token.address, budget_cap=10**21)
    await sign_in(web, db_session, owner.address)

    page = await web.get(f"/dashboard/campaigns/{campaign.id}")

    assert page.status_code == 200
    html = page.text
    assert html.count('<svg class="chart-svg"') == 5
    for title in (
        "Interactions per day",
        "Rewards over time",
        "Budget burn-down",
        "Top referrers",
        "Rewards by referral depth",
    ):
        assert title in html, title
    assert html.count('role="img"') == 5 and "<desc id=" in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    fragment = await web.get(f"/dashboard/campaigns/{campaign.id}/analytics")
    assert fragment.status_code == 200 and 'data-metric="interactions"' in fragment.text


async def test_campaign_actions__activate_without_bank__explained_on_the_page(
    web, db_session, owner
):
    product, token = await _product_with_token(db_session, owner)
    campaign = await make_campaign(db_session, product, token=token.address, status="draft")
    await sign_in(web, db_session, owner.address)
    page = f"/dashboard/campaigns/{campaign.id}"

    response = await post_form(web, f"{page}/activate", {}, page=page)

    assert response.status_code == 409
    assert "deploy the product&#39;s bank" in response.text
    await db_session.refresh(campaign)
    assert campaign.status == "draft"


async def test_settings__members_keys_and_secrets(web, db_session, owner):
    product, _ = await make_product(db_session, owner=owner.address)
    await sign_in(web, db_session, owner.address)
    settings = f"/dashboard/products/{product.id}/settings"
    member = wallet()

    bad = await post_form(
        web, f"/dashboard/products/{product.id}/members", {"wallet": "0x12"}, page=settings
    )
    added = await post_form(
        web,
        f"/dashboard/products/{product.id}/members",
        {"wallet": member, "roles": "campaign_manager"},
        page=settings,
    )
    key = await post_form(
        web,
        f"/dashboard/products/{product.id}/api-keys",
        {"name": "shop backend", "roles": ["interaction_manager"]},
        page=settings,
    )
    secret = await post_form(
        web, f"/dashboard/products/{product.id}/webhook-secrets/custom", {}, page=settings
    )

    assert bad.status_code == 422 and 'id="e-wallet"' in bad.text
    assert added.status_code == 303
    assert key.status_code == 201 and "csk_" in key.text and "interaction_manager" in key.text
    assert secret.status_code == 201 and "whsec_" in secret.text
    listing = (await web.get(settings)).text
    assert member[:8] in listing and "shop backend" in listing and "whsec_" not in listing


async def test_audit_page__lists_changes(web, db_session, owner):
    await sign_in(web, db_session, owner.address)
    await post_form(
        web,
        "/dashboard/products",
        {"name": "Shop", "domains": "audited.example"},
        page="/dashboard",
    )
    product = await db_session.scalar(select(Product))

    page = await web.get(f"/dashboard/products/{product.id}/audit")

    assert page.status_code == 200 and "product.create" in page.text


async def test_unknown_product__404_page_not_json(web, db_session, owner):
    await sign_in(web, db_session, owner.address)

    response = await web.get("/dashboard/products/0x" + "ab" * 32)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


async def test_wallet_page__without_javascript(web, db_session):
    user = wallet()
    response = await web.get("/wallet", params={"address": user.lower()})
    assert response.status_code == 200
    assert "No rewards for this wallet yet." in response.text
    assert f'data-address="{user}"' in response.text

    bad = await web.get("/wallet", params={"address": "0x123"})
    assert bad.status_code == 422 and 'id="e-address"' in bad.text

    static = await web.get("/dashboard/static/wallet.js")
    assert static.status_code == 200 and "pullRewards" in static.text


async def test_sign_out__ends_the_session(web, db_session, owner):
    await sign_in(web, db_session, owner.address)

    response = await post_form(web, "/dashboard/logout", {}, page="/dashboard")

    assert response.status_code == 303
    assert (await web.get("/dashboard")).status_code == 303
