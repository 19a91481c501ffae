"""Raw interactions are partitioned by month of `received_at`, and months past the
retention period are dropped whole.

`interactions` is a partitioned table (migration 0018): one partition per UTC month,
named `interactions_yYYYYmMM`, and a default partition that catches a row no month
covers yet (a clock far ahead, or this job not run for months), so an insert never fails
for want of a partition. The leader's daily job (`maintain`) keeps the current month and
the next `MONTHS_AHEAD` created, moving any row of such a month out of the default
partition first, and, when `INTERACTION_RETENTION_DAYS` is set, drops each month that
ended that many days ago. Dropping a month is a catalogue change, not a scan: the table
stays the size of the retention period whatever the traffic.

What a dropped month takes with it: the raw rows (payload, IP, session ids) and the
dedup and rate-limit history, which look back at most a day. What it does not: rewards,
orders, referral edges (backend.referrals.models), the daily counts the analytics read
(interaction_days) and audit, which live in their own tables. A month still holding an
interaction that waits for evaluation is kept, and the job says so.

Migration 0018 created the months up to then with its own frozen copy of these names.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.observability import alerts

log = logging.getLogger("backend.interactions")

TABLE = "interactions"
DEFAULT = "interactions_default"
MONTHS_AHEAD = 3
_NAME = re.compile(r"^interactions_y(\d{4})m(\d{2})$")
_JOB_LOCK = "interactions.partitions"

PARTITIONS_SQL = text(
    """
    SELECT c.relname AS name FROM pg_inherits AS h
    JOIN pg_class AS c ON c.oid = h.inhrelid
    WHERE h.inhparent = CAST(:table AS regclass)
    """
)
# Interactions of a month still queued for evaluation: the month must stay.
WAITING_SQL = text(
    "SELECT count(*) FROM evaluation_queue "
    "WHERE received_at >= CAST(:start AS timestamptz) AND received_at < CAST(:end AS timestamptz)"
)
# the rows of one month the default partition holds, handed to the INSERT that follows
MOVE_OUT_OF_DEFAULT = (
    f"WITH moved AS (DELETE FROM {DEFAULT} "  # noqa: S608 - constant table name
    "WHERE received_at >= :lo AND received_at < :hi RETURNING *) "
)
# rows in the default partition, counted up to a bound (the monitor runs every minute)
DEFAULT_ROWS_CAP = 10_000
DEFAULT_ROWS_SQL = text(
    f"SELECT count(*) FROM (SELECT 1 FROM {DEFAULT} LIMIT :cap) AS held"  # noqa: S608
)
PURGE_DEFAULT_SQL = text(
    f"""
    DELETE FROM {DEFAULT} AS i WHERE i.received_at < CAST(:before AS timestamptz)
      AND NOT EXISTS (SELECT 1 FROM evaluation_queue AS q WHERE q.interaction_id = i.id)
    """  # noqa: S608 - constant table name
)


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def partition_name(start: datetime) -> str:
    return f"{TABLE}_y{start.year:04d}m{start.month:02d}"


def is_partition(name: str) -> bool:
    """A table this module creates (Alembic's autogenerate leaves them alone)."""
    return name == DEFAULT or _NAME.match(name) is not None


def month_of(name: str) -> datetime | None:
    """The first instant of the month a partition holds, from its name; None otherwise."""
    match = _NAME.match(name)
    if match is None:
        return None
    return datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)


def _month_name(start: datetime) -> str:
    """The partition's name, checked against the one pattern DDL may interpolate."""
    name = partition_name(start)
    if _NAME.match(name) is None:  # pragma: no cover - partition_name makes only these
        raise ValueError(f"not a partition name: {name!r}")
    return name


async def create_month(session: AsyncSession, start: datetime) -> None:
    """Create the month starting at `start` as a partition, taking over any row of that
    month the default partition holds (attaching would refuse otherwise)."""
    name, end = _month_name(start), next_month(start)
    lo, hi = start.isoformat(), end.isoformat()
    # sql-interpolation: a name matching _NAME; DDL takes no bound parameters
    create = f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    # sql-interpolation: a name matching _NAME (the bounds are bound)
    move = f"INSERT INTO {name} SELECT * FROM moved"  # noqa: S608
    # sql-interpolation: a name matching _NAME, bounds of our own isoformat()
    attach = f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')"
    await session.execute(text(create))
    await session.execute(text(MOVE_OUT_OF_DEFAULT + move), {"lo": start, "hi": end})
    await session.execute(text(attach))


def expired(names: list[str], now: datetime, retention_days: int) -> list[tuple[str, datetime]]:
    """(partition, its month's start) for every month that ended `retention_days` ago."""
    if retention_days <= 0:
        return []
    cutoff = now - timedelta(days=retention_days)
    found = []
    for name in sorted(names):
        start = month_of(name)
        if start is not None and next_month(start) <= cutoff:
            found.append((name, start))
    return found


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    kept_waiting: list[str] = field(default_factory=list)  # expired, evaluation pending
    purged_default: int = 0


async def maintain(session: AsyncSession, now: datetime, retention_days: int) -> Maintenance:
    """Create the months up to MONTHS_AHEAD ahead and drop the expired ones (commits).

    One caller at a time (a transaction-level advisory lock); a second one returns at once.
    """
    done = Maintenance()
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": _JOB_LOCK}
    )
    if not locked:
        await session.rollback()
        return done
    names = list(await session.scalars(PARTITIONS_SQL, {"table": TABLE}))
    start = month_start(now)
    for _ in range(MONTHS_AHEAD + 1):
        if partition_name(start) not in names:
            await create_month(session, start)
            done.created.append(partition_name(start))
        start = next_month(start)
    for name, month in expired(names, now, retention_days):
        if await session.scalar(WAITING_SQL, {"start": month, "end": next_month(month)}):
            done.kept_waiting.append(name)
            continue
        # sql-interpolation: a name read from the catalogue that matched _NAME (month_of)
        await session.execute(text(f"DROP TABLE {name}"))
        done.dropped.append(name)
    if retention_days > 0:
        cutoff = now - timedelta(days=retention_days)
        purged = await session.execute(PURGE_DEFAULT_SQL, {"before": cutoff})
        done.purged_default = purged.rowcount or 0  # type: ignore[attr-defined]
    await session.commit()
    if done.created or done.dropped or done.purged_default:
        log.info(
            "interaction partitions maintained",
            extra={  # not "created": a LogRecord attribute of its own
                "months_created": done.created,
                "months_dropped": done.dropped,
                "purged_from_default": done.purged_default,
            },
        )
    if done.kept_waiting:
        log.warning(
            "expired interaction partitions kept: interactions in them still wait for evaluation",
            extra={"partitions": done.kept_waiting},
        )
    return done


async def check_default_partition(session: AsyncSession) -> dict[str, int]:
    """Alert `interactions_unpartitioned` while the default partition holds rows.

    It only catches rows no month covers: the daily job has not run for months, or a
    clock ran far ahead. Such rows are never dropped by retention with their month, and
    every query on their time range scans the default partition too. The next
    `maintain` moves the rows of the months it creates; the alert clears when none is
    left. Counted up to DEFAULT_ROWS_CAP rows.
    """
    held = int(await session.scalar(DEFAULT_ROWS_SQL, {"cap": DEFAULT_ROWS_CAP}) or 0)
    if held:
        shown = f"{held:,}" if held < DEFAULT_ROWS_CAP else f"at least {held:,}"
        await alerts.raise_alert(
            session,
            alerts.INTERACTIONS_UNPARTITIONED,
            "warning",
            f"{shown} interactions are in {DEFAULT}: no monthly partition covers them "
            "(has the interaction_partitions job run?)",
            subject=DEFAULT,
            details={"rows": held, "capped": held >= DEFAULT_ROWS_CAP},
        )
    else:
        await alerts.resolve_alert(session, alerts.INTERACTIONS_UNPARTITIONED, DEFAULT)
    return {"interactions_default_rows": held}
