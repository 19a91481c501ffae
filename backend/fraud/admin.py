"""The fraud API's operations: authorise the caller, change rules or review, audit, commit.

Reading needs any role on the product; editing rules, settings and reviewing needs
campaign_manager (or admin), like editing a campaign. Deny-listed IPs and devices are
stored as the same keyed hashes the signals use, never in clear.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.core.errors import NotFound
from backend.fraud import queue, service
from backend.fraud import schemas as s
from backend.fraud.models import FraudRule, FraudSettings
from backend.fraud.signals import keyed_hash
from backend.products import authorization
from backend.products.models import Product, Role
from backend.products.validation import address, invalid

PRODUCT_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")


async def authorize(
    session: AsyncSession, principal: Principal, product_id: str, role: Role | None
) -> Product:
    """The shared check, after the path's product id is known to be an id at all (a NUL
    byte or any other junk must be a 404, not a database error)."""
    if not PRODUCT_ID.match(product_id):
        raise NotFound("product not found", code="product_not_found")
    return await authorization.authorize(session, principal, product_id, role)


async def overview(session: AsyncSession, principal: Principal, product_id: str) -> dict[str, Any]:
    product = await authorize(session, principal, product_id, None)
    stored = await service.rules_of(session, product.id)
    settings = await service.settings_of(session, product.id)
    return {
        "customised": stored is not None,
        "rules": service.defaults_json()
        if stored is None
        else [service.rule_json(rule) for rule in stored],
        "settings": service.settings_json(settings),
    }


def _params(kind: str, params: s.RuleParams, secret: str, product_id: str) -> dict[str, Any]:
    """The stored parameters of a rule: only those its kind reads; hashes for IPs/devices."""
    values = {k: v for k, v in msgspec.structs.asdict(params).items() if v is not None}
    allowed = {
        "referral_velocity": {"max_per_hour", "max_per_day"},
        "wallet_earnings": {"max_amount", "period"},
        "min_purchase": {"min_amount"},
        "refund_history": {"min_refunded_orders"},
        "deny_list": {"wallets", "ips", "devices"},
    }.get(kind, set())
    extra = sorted(set(values) - allowed)
    if extra:
        raise invalid(f"params.{extra[0]}", f"not a parameter of a {kind} rule")
    if kind == "referral_velocity" and not values:
        raise invalid("params", "give max_per_hour, max_per_day or both")
    if kind == "wallet_earnings" and "max_amount" not in values:
        raise invalid("params.max_amount", "required for a wallet_earnings rule")
    if kind == "min_purchase" and "min_amount" not in values:
        raise invalid("params.min_amount", "required for a min_purchase rule")
    if kind == "refund_history" and "min_refunded_orders" not in values:
        raise invalid("params.min_refunded_orders", "required for a refund_history rule")
    if kind == "deny_list":
        values["wallets"] = [address("params.wallets", w) for w in values.get("wallets", [])]
        values["ips"] = [
            keyed_hash(secret, "ip", product_id, _ip(ip)) for ip in values.get("ips", [])
        ]
        values["devices"] = [
            keyed_hash(secret, "device", product_id, device) for device in values.get("devices", [])
        ]
    return values


def _ip(value: str) -> str:
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        raise invalid("params.ips", "must be IPv4 or IPv6 addresses") from None


async def _rule(session: AsyncSession, product_id: str, rule_id: str) -> FraudRule:
    try:
        key = uuid.UUID(rule_id)
    except ValueError:
        raise NotFound("rule not found", code="rule_not_found") from None
    rule = await session.get(FraudRule, key, with_for_update=True)
    if rule is None or rule.product_id != product_id:
        raise NotFound("rule not found", code="rule_not_found")
    return rule


async def create_rule(
    session: AsyncSession, principal: Principal, product_id: str, data: s.RuleCreate, secret: str
) -> dict[str, Any]:
    product = await authorize(session, principal, product_id, Role.CAMPAIGN_MANAGER)
    params = _params(data.kind, data.params, secret, product.id)
    await service.materialise(session, product.id)
    rule = FraudRule(
        id=uuid.uuid4(),
        product_id=product.id,
        kind=data.kind,
        action=data.action,
        reason_code=data.reason_code,
        params=params,
        enabled=data.enabled,
    )
    session.add(rule)
    await session.flush()
    after = service.rule_json(rule)
    _audit(session, principal, product.id, "fraud_rule.create", str(rule.id), None, after)
    await session.commit()
    return after


async def update_rule(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    rule_id: str,
    data: s.RuleUpdate,
    secret: str,
) -> dict[str, Any]:
    product = await authorize(session, principal, product_id, Role.CAMPAIGN_MANAGER)
    await service.materialise(session, product.id)
    rule = await _rule(session, product.id, rule_id)
    before = service.rule_json(rule)
    if not isinstance(data.action, msgspec.UnsetType):
        rule.action = data.action
    if not isinstance(data.reason_code, msgspec.UnsetType):
        rule.reason_code = data.reason_code
    if not isinstance(data.params, msgspec.UnsetType):
        rule.params = _params(rule.kind, data.params, secret, product.id)
    if not isinstance(data.enabled, msgspec.UnsetType):
        rule.enabled = data.enabled
    await session.flush()
    after = service.rule_json(rule)
    _audit(session, principal, product.id, "fraud_rule.update", str(rule.id), before, after)
    await session.commit()
    return after


async def delete_rule(
    session: AsyncSession, principal: Principal, product_id: str, rule_id: str
) -> None:
    product = await authorize(session, principal, product_id, Role.CAMPAIGN_MANAGER)
    await service.materialise(session, product.id)
    rule = await _rule(session, product.id, rule_id)
    before = service.rule_json(rule)
    await session.delete(rule)
    _audit(session, principal, product.id, "fraud_rule.delete", str(rule.id), before, None)
    await session.commit()


async def update_settings(
    session: AsyncSession, principal: Principal, product_id: str, data: s.SettingsUpdate
) -> dict[str, Any]:
    product = await authorize(session, principal, product_id, Role.CAMPAIGN_MANAGER)
    await service.materialise(session, product.id)
    row = await session.get(FraudSettings, product.id, with_for_update=True)
    assert row is not None  # materialise made it
    before = dict(service.settings_json(row))
    for name in ("review_after_seconds", "default_decision", "signal_retention_days"):
        value = getattr(data, name)
        if not isinstance(value, msgspec.UnsetType):
            setattr(row, name, value)
    await session.flush()
    after = dict(service.settings_json(row))
    _audit(session, principal, product.id, "fraud_settings.update", product.id, before, after)
    await session.commit()
    return after


async def held(session: AsyncSession, principal: Principal, product_id: str) -> dict[str, Any]:
    product = await authorize(session, principal, product_id, None)
    groups = await queue.held_groups(session, product.id)
    return {"groups": [g.as_json() for g in groups]}


async def review(
    session: AsyncSession, principal: Principal, product_id: str, data: s.ReviewIn
) -> dict[str, Any]:
    product = await authorize(session, principal, product_id, Role.CAMPAIGN_MANAGER)
    outcome = await service.review(
        session,
        product_id=product.id,
        reward_ids=data.reward_ids,
        decision=data.decision,
        actor=principal.actor,
        note=data.note,
    )
    await session.commit()
    return {"approved": outcome.approved, "rejected": outcome.rejected, "skipped": outcome.skipped}


def _audit(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    action: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    record(
        session,
        actor=principal.actor,
        product_id=product_id,
        action=action,
        entity="fraud_rule" if action.startswith("fraud_rule") else "fraud_settings",
        entity_id=entity_id,
        before=before,
        after=after,
    )
