"""Record admin actions in the caller's transaction, so the log and the change commit together."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEntry
from backend.core.logs import request_id_var


def record(
    session: AsyncSession,
    *,
    actor: str,
    product_id: str | None,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (the caller commits)."""
    entry = AuditEntry(
        actor=actor,
        product_id=product_id,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
        request_id=request_id_var.get(),
    )
    session.add(entry)
    return entry
