"""HTTP for fraud rules, review settings and the review queue (business API)."""

from __future__ import annotations

from typing import Any

from litestar import Router, delete, get, patch, post, put
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.config import Settings
from backend.core.errors import Conflict, NotFound
from backend.fraud import admin
from backend.fraud import schemas as s

PRODUCT = "/products/{product_id:str}/fraud"
MAX_ID = 2**63 - 1


@get(PRODUCT, summary="A product's fraud rules and review settings")
async def get_fraud(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> dict[str, Any]:
    return await admin.overview(db_session, principal, product_id)


@post(PRODUCT + "/rules", summary="Add a rule (campaign_manager)")
async def create_rule(
    product_id: str,
    data: s.RuleCreate,
    principal: Principal,
    db_session: AsyncSession,
    settings: Settings,
) -> dict[str, Any]:
    return await admin.create_rule(
        db_session, principal, product_id, data, settings.effective_secret_key
    )


@patch(PRODUCT + "/rules/{rule_id:str}", summary="Edit a rule (campaign_manager)")
async def update_rule(
    product_id: str,
    rule_id: str,
    data: s.RuleUpdate,
    principal: Principal,
    db_session: AsyncSession,
    settings: Settings,
) -> dict[str, Any]:
    return await admin.update_rule(
        db_session, principal, product_id, rule_id, data, settings.effective_secret_key
    )


@delete(PRODUCT + "/rules/{rule_id:str}", summary="Remove a rule (campaign_manager)")
async def delete_rule(
    product_id: str, rule_id: str, principal: Principal, db_session: AsyncSession
) -> None:
    await admin.delete_rule(db_session, principal, product_id, rule_id)


@put(PRODUCT + "/settings", summary="Review settings (campaign_manager)")
async def put_settings(
    product_id: str, data: s.SettingsUpdate, principal: Principal, db_session: AsyncSession
) -> dict[str, Any]:
    return await admin.update_settings(db_session, principal, product_id, data)


@get(PRODUCT + "/held", summary="Held rewards grouped by referrer, with evidence")
async def get_held(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> dict[str, Any]:
    return await admin.held(db_session, principal, product_id)


@post(PRODUCT + "/review", status_code=200, summary="Approve or reject held rewards (bulk)")
async def post_review(
    product_id: str, data: s.ReviewIn, principal: Principal, db_session: AsyncSession
) -> dict[str, Any]:
    return await admin.review(db_session, principal, product_id, data)


@post(
    PRODUCT + "/held/{reward_id:str}/{decision:str}",
    status_code=200,
    summary="Approve or reject one held reward",
)
async def post_review_one(
    product_id: str,
    reward_id: str,
    decision: str,
    principal: Principal,
    db_session: AsyncSession,
) -> dict[str, Any]:
    if decision not in ("approve", "reject"):
        raise NotFound("no such review action", code="not_found")
    if not (len(reward_id) <= 19 and reward_id.isascii() and reward_id.isdigit()) or not (
        0 < int(reward_id) <= MAX_ID
    ):
        raise NotFound("reward not found", code="reward_not_found")
    data = s.ReviewIn(reward_ids=[int(reward_id)], decision=decision)  # type: ignore[arg-type]
    outcome = await admin.review(db_session, principal, product_id, data)
    if outcome["skipped"]:
        raise Conflict("this reward is not held (reviewed already?)", code="reward_not_held")
    return outcome


router = Router(
    path="/api/business",
    tags=["business: fraud"],
    route_handlers=[
        get_fraud,
        create_rule,
        update_rule,
        delete_rule,
        put_settings,
        get_held,
        post_review,
        post_review_one,
    ],
)
route_handlers = [router]
