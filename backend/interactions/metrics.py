"""Ingestion's series, on observability's registry: counted here, where the types are known.

Observability sits below every domain, so the interaction types it would need to
label the counter live with interactions, and so does the counter.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from backend.interactions.schemas import BUILTIN_TYPES
from backend.observability.metrics import REGISTRY

INTERACTIONS_INGESTED = Counter(
    "cascade_interactions_ingested_total",
    "Interactions stored, by interaction type",
    ["type"],
    registry=REGISTRY,
)
# Built-in types by name; every `custom.*` type as one `custom` series, so a caller that
# invents types cannot grow the label set without bound.
CUSTOM_INTERACTION = "custom"
INTERACTION_TYPES = (*sorted(BUILTIN_TYPES), CUSTOM_INTERACTION)
# every series made up front: explicit zeros before the first interaction, and a request
# counts with a dict lookup (a labels() call costs microseconds)
_INGESTED = {label: INTERACTIONS_INGESTED.labels(type=label) for label in INTERACTION_TYPES}

# Single requests stored together (backend.interactions.coalesce): one observation per call.
GROUP_SIZE = Histogram(
    "cascade_ingest_group_size",
    "Single requests stored by one call, per call",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 200),
    registry=REGISTRY,
)


def interaction_label(interaction_type: str) -> str:
    return interaction_type if interaction_type in BUILTIN_TYPES else CUSTOM_INTERACTION


def interaction_stored(interaction_type: str) -> None:
    """Count one interaction already durable (an autocommit statement stored it)."""
    _INGESTED[interaction_label(interaction_type)].inc()


_UNCOMMITTED = "cascade.metrics.interactions"


def interaction_stored_on_commit(session: Any, interaction_type: str) -> None:
    """Count an interaction the session's transaction wrote, when (and only if) it commits.

    A rolled-back transaction stored nothing, so it must count nothing: the count
    waits in the session's `info` and is dropped when the transaction ends otherwise.
    """
    sync_session = getattr(session, "sync_session", session)
    sync_session.info.setdefault(_UNCOMMITTED, []).append(interaction_type)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    for interaction_type in session.info.pop(_UNCOMMITTED, ()):
        interaction_stored(interaction_type)


@event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_UNCOMMITTED, None)
