"""The fraud rules page: a product's rules and review settings, edited with the same
operations as the business API (backend.fraud.admin: campaign_manager, audited)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.errors import NotFound
from backend.dashboard.forms import FormInvalid, FormReader, Refused, attempt, convert
from backend.dashboard.web import render, see_other
from backend.fraud import admin
from backend.fraud import schemas as s
from backend.products.authorization import roles_on
from backend.products.models import Role

PRODUCT = "/products/{product_id:str}"
Page = Response[str] | Redirect
KINDS = (
    ("shared_device", "Referee and referrer share a device"),
    ("shared_passkey", "Referee and referrer share a passkey"),
    ("shared_ip", "Referee and referrer share an IP address"),
    ("referral_velocity", "Referrer gains too many referrals"),
    ("wallet_earnings", "A wallet earns more than a limit"),
    ("min_purchase", "Purchase below a minimum"),
    ("refund_history", "Buyer has refunded orders before"),
    ("deny_list", "Deny list (wallets, IPs, devices)"),
)


@get(PRODUCT + "/fraud")
async def rules_page(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    return await _page(request, viewer, db_session, product_id)


async def _page(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response[str]:
    product = await admin.authorize(session, viewer, product_id, None)
    overview = await admin.overview(session, viewer, product.id)
    held = await roles_on(session, viewer, product)
    return render(
        request,
        "fraud_rules.html",
        status=status,
        viewer=viewer,
        product=product,
        overview=overview,
        kinds=KINDS,
        can_edit=bool(held & (Role.CAMPAIGN_MANAGER | Role.ADMIN)),
        errors=errors or {},
        form=form or {},
        tab="review",
    )


def _rule_values(reader: FormReader) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("max_per_hour", "max_per_day", "min_refunded_orders"):
        value = reader.integer(name, f"params.{name}")
        if value is not None:
            params[name] = value
    for name in ("max_amount", "min_amount", "period"):
        if reader.text(name):
            params[name] = reader.text(name)
    for name in ("wallets", "ips", "devices"):
        if reader.lines(name):
            params[name] = reader.lines(name)
    if reader.errors:
        raise FormInvalid(reader.errors)
    return {
        "kind": reader.text("kind"),
        "action": reader.text("action"),
        "reason_code": reader.text("reason_code") or reader.text("kind"),
        "params": params,
    }


async def _refused(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    refused: Refused,
    form: dict[str, str] | None = None,
) -> Response[str]:
    if refused.status == 404:  # the dashboard's error page, like every other missing thing
        raise NotFound(refused.errors.get("form", "not found"), code="not_found")
    return await _page(
        request,
        viewer,
        session,
        product_id,
        status=refused.status,
        errors=refused.errors,
        form=form,
    )


@post(PRODUCT + "/fraud/rules")
async def add_rule(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = FormReader(await request.form())
    secret = request.app.state.context.settings.effective_secret_key

    async def action() -> dict[str, Any]:
        data = convert(_rule_values(reader), s.RuleCreate)
        return await admin.create_rule(db_session, viewer, product_id, data, secret)

    result = await attempt(db_session, action)
    if isinstance(result, Refused):
        form = {k: reader.text(k) for k in ("kind", "action", "reason_code")}
        return await _refused(request, viewer, db_session, product_id, result, form)
    return see_other(f"/dashboard/products/{product_id.lower()}/fraud")


@post(PRODUCT + "/fraud/rules/{rule_id:str}")
async def change_rule(
    request: Request[Any, Any, Any],
    product_id: str,
    rule_id: str,
    viewer: Principal,
    db_session: AsyncSession,
) -> Page:
    reader = FormReader(await request.form())
    secret = request.app.state.context.settings.effective_secret_key
    change = reader.text("change")

    async def action() -> object:
        if change == "delete":
            await admin.delete_rule(db_session, viewer, product_id, rule_id)
            return None
        if change not in ("enable", "disable", "hold", "reject"):
            raise FormInvalid({"form": "unknown change"})
        update = (
            s.RuleUpdate(enabled=change == "enable")
            if change in ("enable", "disable")
            else s.RuleUpdate(action=change)  # type: ignore[arg-type]
        )
        return await admin.update_rule(db_session, viewer, product_id, rule_id, update, secret)

    result = await attempt(db_session, action)
    if isinstance(result, Refused):
        return await _refused(request, viewer, db_session, product_id, result)
    return see_other(f"/dashboard/products/{product_id.lower()}/fraud")


@post(PRODUCT + "/fraud/settings")
async def change_settings(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = FormReader(await request.form())

    async def action() -> dict[str, Any]:
        hours = reader.integer("review_after_hours")
        days = reader.integer("signal_retention_days")
        if reader.errors:
            raise FormInvalid(reader.errors)
        values: dict[str, Any] = {"default_decision": reader.text("default_decision")}
        if hours is not None:
            values["review_after_seconds"] = hours * 3600
        if days is not None:
            values["signal_retention_days"] = days
        data = convert(values, s.SettingsUpdate)
        return await admin.update_settings(db_session, viewer, product_id, data)

    result = await attempt(db_session, action)
    if isinstance(result, Refused):
        return await _refused(request, viewer, db_session, product_id, result)
    return see_other(f"/dashboard/products/{product_id.lower()}/fraud")


route_handlers = [rules_page, add_rule, change_rule, change_settings]
