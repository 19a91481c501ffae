"""`cascade db ...`: the schema, through Alembic only."""

from __future__ import annotations

import asyncio

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, step
from backend.core import migrate
from backend.core.db import create_engine
from backend.runtime.services import embedded_services


@click.group()
def db() -> None:
    """Database schema (Alembic)."""


def _run(action: str, revision: str | None = None) -> str | None:
    settings = get_settings()
    with embedded_services(settings, need_chain=False) as endpoints:
        if endpoints.postgres is not None:
            done(f"embedded postgres at {settings.data_dir / 'postgres'}")

        async def run() -> str | None:
            engine = create_engine(endpoints.database_url, pool_size=1)
            try:
                if action == "upgrade":
                    await migrate.upgrade(engine, revision or "head")
                elif action == "downgrade":
                    await migrate.downgrade(engine, revision or "-1")
                return await migrate.current_revision(engine)
            finally:
                await engine.dispose()

        return asyncio.run(run())


@db.command("upgrade")
@click.argument("revision", default="head")
@handles_config_errors
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    step(f"upgrading schema to {revision}")
    current = _run("upgrade", revision)
    done(f"schema at {current}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@handles_config_errors
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: one step; `base` = empty)."""
    step(f"downgrading schema to {revision}")
    current = _run("downgrade", revision)
    done(f"schema at {current or 'base (empty)'}")


@db.command("current")
@handles_config_errors
def current() -> None:
    """Print the schema revision the database is at, and the newest one."""
    step("reading schema revision")
    revision = _run("current")
    head = migrate.head_revision()
    state = "up to date" if revision == head else f"behind (head is {head})"
    click.echo(f"{revision or 'base (empty)'}  {state}")
