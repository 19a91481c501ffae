"""Alembic environment. The connection comes from backend.core.migrate (never an ini file)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from backend.core.db import Amount
from backend.interactions.partitions import is_partition
from backend.models import metadata

config = context.config

# Tables other tools own are never touched by autogenerate.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(obj, name, type_, reflected, compare_to):
    # interactions' monthly partitions are made by a job, not declared as models
    return not (type_ == "table" and (name in FOREIGN_TABLES or is_partition(name)))


def render_item(type_, obj, autogen_context):
    """Render app column types as plain SQLAlchemy ones: migrations never import app code."""
    if type_ == "type" and isinstance(obj, Amount):
        return "sa.Numeric(78, 0)"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
        compare_server_default=False,
        transaction_per_migration=True,
    )


def _run(connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_with_url(config.get_main_option("sqlalchemy.url")))
