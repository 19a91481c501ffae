"""The review queue page: held rewards grouped by referrer, with their evidence; approve or
reject one reward, the selected ones, or a whole group.

The page calls the same operations as the business API (backend.fraud.admin), so the
role check (campaign_manager), the audit entry and the owner webhook are the same.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.errors import DomainError
from backend.dashboard.forms import FormReader
from backend.dashboard.web import render, see_other
from backend.fraud import admin, queue
from backend.fraud import schemas as fraud_schemas
from backend.products.authorization import roles_on
from backend.products.models import Role
from backend.products.validation import role_names
from backend.wallets.repository import token_meta

PRODUCT = "/products/{product_id:str}"
MAX_ID = 2**63 - 1
Page = Response[str] | Redirect


@get(PRODUCT + "/review")
async def review_page(
    request: Request[Any, Any, Any],
    product_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    done: int | None = None,
) -> Page:
    return await _page(request, viewer, db_session, product_id, done=done)


async def _page(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    *,
    status: int = 200,
    done: int | None = None,
    errors: dict[str, str] | None = None,
) -> Response[str]:
    product = await admin.authorize(session, viewer, product_id, None)
    groups = await queue.held_groups(session, product.id)
    tokens = sorted({r.token for g in groups for r in g.rewards})
    meta = await token_meta(session, tokens)
    held_roles = await roles_on(session, viewer, product)
    return render(
        request,
        "review.html",
        status=status,
        viewer=viewer,
        product=product,
        groups=groups,
        decimals={t: meta.get(t, (None, 18))[1] for t in tokens},
        symbols={t: meta.get(t, (None, 18))[0] for t in tokens},
        can_review=bool(held_roles & (Role.CAMPAIGN_MANAGER | Role.ADMIN)),
        roles=role_names(held_roles),
        done=done,
        errors=errors or {},
        tab="review",
    )


@post(PRODUCT + "/review")
async def review_action(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    """`action` is approve:<id> / reject:<id> for one reward, or approve-selected,
    reject-selected, approve-group, reject-group for the checked or all of a group."""
    reader = FormReader(await request.form())
    action = reader.text("action")
    decision, _, target = action.partition(":")
    decision, _, scope = decision.partition("-")
    if decision not in ("approve", "reject"):
        return await _page(
            request,
            viewer,
            db_session,
            product_id,
            status=422,
            errors={"form": "choose approve or reject"},
        )
    if target:
        chosen = [target]
    elif scope == "group":
        chosen = reader.all("group_id")
    else:
        chosen = reader.all("reward_id")
    ids = [int(value) for value in chosen if _is_id(value)]
    if not ids or len(ids) != len(chosen) or len(ids) > 1_000:
        return await _page(
            request,
            viewer,
            db_session,
            product_id,
            status=422,
            errors={"form": "select at least one held reward (at most 1,000)"},
        )
    note = reader.text("note")[:500] or None
    data = fraud_schemas.ReviewIn(reward_ids=ids, decision=decision, note=note)  # type: ignore[arg-type]
    try:
        outcome = await admin.review(db_session, viewer, product_id, data)
    except DomainError as exc:
        await db_session.rollback()
        if exc.status_code == 404:
            raise
        return await _page(
            request,
            viewer,
            db_session,
            product_id,
            status=exc.status_code,
            errors={"form": exc.message},
        )
    count = len(outcome["approved"]) + len(outcome["rejected"])
    return see_other(f"/dashboard/products/{product_id.lower()}/review?done={count}")


def _is_id(value: str) -> bool:
    return len(value) <= 19 and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID


route_handlers = [review_page, review_action]
