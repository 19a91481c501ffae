"""HTML forms to the business API's input schemas, and errors back to form fields.

A form is read into the same dict the JSON API would receive and converted by
msgspec into the same schema; the service then applies the same rules. Errors
of either step come back as {field: message}, keyed like the API's
`details.field` ("reward.amount"; list indices dropped: "domains[1]" -> "domains").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from litestar.datastructures import FormMultiDict
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import DomainError

T = TypeVar("T")
FormErrors = dict[str, str]

_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


class FormInvalid(Exception):
    """The form cannot be converted; `errors` maps fields to what to fix."""

    def __init__(self, errors: FormErrors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_key(path: str) -> str:
    return path.split("[", 1)[0] or "form"


def convert(values: dict[str, Any], schema: type[T]) -> T:
    """msgspec conversion of the form's values; FormInvalid naming the field on failure."""
    try:
        return msgspec.convert(values, schema)
    except msgspec.ValidationError as exc:
        raise FormInvalid(schema_error(str(exc))) from None


def schema_error(message: str) -> FormErrors:
    """'Expected `int` >= 0 - at `$.user_bps`' -> {'user_bps': 'Expected a number >= 0'}."""
    at = _AT.search(message)
    path = at.group(1) if at else ""
    text = _AT.sub("", message)
    missing = _MISSING.search(text)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        text = "is required"
    text = (
        text.replace("Expected `int`", "Expected a whole number")
        .replace("Expected `str` matching regex", "Expected a value matching")
        .replace("Expected `str` of length", "Expected text of length")
        .replace("Expected `array` of length", "Expected a list of length")
    )
    return {field_key(path): text}


def domain_errors(exc: DomainError) -> FormErrors:
    """A service's error as form errors: on its field when it names one, else on the form."""
    details = exc.details if isinstance(exc.details, dict) else {}
    field = details.get("field")
    if isinstance(field, str) and field:
        problem = details.get("problem")
        return {field_key(field): str(problem) if problem else exc.message}
    return {"form": exc.message}


@dataclass(frozen=True)
class Refused:
    """Why a form's action did not happen: errors by field, and the refusal's status."""

    errors: FormErrors
    status: int  # 422 for input the form or the service refused; the service's status otherwise


async def attempt(session: AsyncSession, action: Callable[[], Awaitable[T]]) -> T | Refused:
    """Run a form's action: its result, or (rolled back) the errors to show by their fields.

    Every dashboard form posts through this, so a refusal always re-renders the same way.
    """
    try:
        return await action()
    except FormInvalid as exc:
        await session.rollback()
        return Refused(exc.errors, 422)
    except DomainError as exc:
        await session.rollback()
        return Refused(domain_errors(exc), exc.status_code)


class FormReader:
    """Typed reads of a submitted form; bad numbers are collected, not raised one by one."""

    def __init__(self, form: FormMultiDict):
        self.form = form
        self.errors: FormErrors = {}

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def has(self, name: str) -> bool:
        return name in self.form

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.getall(name, []) if isinstance(v, str) and v.strip()]

    def lines(self, name: str) -> list[str]:
        """A textarea of one value per line (commas also separate)."""
        return [part.strip() for part in re.split(r"[\n,]", self.text(name)) if part.strip()]

    def checked(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1")

    def integer(self, name: str, key: str | None = None, *, default: int | None = None) -> Any:
        raw = self.text(name)
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            self.errors[key or name] = "must be a whole number"
            return default

    def moment(self, name: str) -> str | None:
        """A datetime-local input (read as UTC) as an ISO 8601 string with a zone."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            self.errors[name] = "must be a date and time like 2025-01-31T12:00"
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.isoformat()

    def check(self) -> None:
        if self.errors:
            raise FormInvalid(self.errors)


def product_create_values(reader: FormReader) -> dict[str, Any]:
    return {"name": reader.text("name"), "domains": reader.lines("domains")}


def product_update_values(reader: FormReader) -> dict[str, Any]:
    values = {
        "name": reader.text("name"),
        "domains": reader.lines("domains"),
        "dedup_window_s": reader.integer("dedup_window_s"),
        "rate_limit_per_hour": reader.integer("rate_limit_per_hour"),
    }
    return {k: v for k, v in values.items() if v is not None}


def reward_values(reader: FormReader) -> dict[str, Any]:
    kind = reader.text("reward_type") or "fixed"
    if kind == "fixed":
        return {"type": kind, "amount": reader.text("reward_amount")}
    if kind == "range":
        reward: dict[str, Any] = {
            "type": kind,
            "start": reader.text("reward_start"),
            "end": reader.text("reward_end"),
        }
        beta = reader.integer("reward_beta_bps", "reward.beta_bps")
        if beta is not None:
            reward["beta_bps"] = beta
        return reward
    if kind == "percent_of_purchase":
        cap = reader.text("reward_cap")
        return {
            "type": kind,
            "bps": reader.integer("reward_bps", "reward.bps"),
            "cap": cap or None,
        }
    tiers = []
    for line in reader.text("reward_tiers").splitlines():
        parts = line.replace(":", " ").split()
        if not parts:
            continue
        if len(parts) != 2:
            reader.errors["reward.tiers"] = "one tier per line: <min order> <amount>"
            break
        tiers.append({"min_order": parts[0], "amount": parts[1]})
    return {"type": kind, "tiers": tiers}


def campaign_values(reader: FormReader, *, editable_token: bool = True) -> dict[str, Any]:
    """Every CampaignCreate field from the campaign form (token only while it may change)."""
    values: dict[str, Any] = {
        "name": reader.text("name"),
        "trigger": reader.text("trigger"),
        "reward": reward_values(reader),
        "user_bps": reader.integer("user_bps"),
        "decay_bps": reader.integer("decay_bps"),
        "max_depth": reader.integer("max_depth", default=5),
        "requires_referral": reader.checked("requires_referral"),
        "max_rewards_per_user": reader.integer("max_rewards_per_user"),
        "budget_cap": reader.text("budget_cap") or "0",
        "period_cap": reader.text("period_cap") or "0",
        "lockup_seconds": reader.integer("lockup_seconds", default=0),
        "settle_max_wait_s": reader.integer("settle_max_wait_s", default=0),
        "settle_min_rewards": reader.integer("settle_min_rewards"),
        "settle_min_amount": reader.text("settle_min_amount") or None,
        "starts_at": reader.moment("starts_at"),
        "ends_at": reader.moment("ends_at"),
    }
    if editable_token:
        values["token"] = reader.text("token")
        values["budget_period"] = reader.text("budget_period") or "total"
    for required in ("user_bps", "decay_bps"):
        if values[required] is None and required not in reader.errors:
            reader.errors[required] = "is required"
    return values
