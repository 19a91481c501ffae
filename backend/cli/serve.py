"""`cascade serve`: the API (and, as later issues add them, the jobs) in one process."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, step
from backend.core import migrate
from backend.core.config import ConfigError, Settings
from backend.core.db import create_engine
from backend.runtime.anvil import free_port
from backend.runtime.contracts import ensure_core_contracts
from backend.runtime.services import Endpoints, embedded_services

log = logging.getLogger(__name__)


async def prepare_database(settings: Settings, database_url: str) -> None:
    """Embedded databases are migrated on start; a real one must already be at head."""
    engine = create_engine(database_url, pool_size=1)
    try:
        if settings.embedded_database:
            await migrate.upgrade(engine)
            return
        current, head = await migrate.current_revision(engine), migrate.head_revision()
        if current != head:
            raise ConfigError(
                f"DATABASE_URL schema is at {current or 'base'}, code expects {head}: "
                "run `cascade db upgrade` first"
            )
    finally:
        await engine.dispose()


def run_server(settings: Settings, endpoints: Endpoints, host: str, port: int) -> None:
    import uvicorn

    from backend.api.app import create_app

    app = create_app(
        settings,
        database_url=endpoints.database_url,
        rpc_url=endpoints.rpc_url,
        run_jobs=True,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn drains on SIGTERM, then re-raises it with the default handler, which would
    # kill us before embedded postgres/anvil are stopped; as KeyboardInterrupt it reaches
    # the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    done(f"listening on http://{host}:{port}  (docs: http://{host}:{port}/schema)")
    server.run()


@click.command("serve")
@click.option("--host", default=None, help="listen address (default: HOST or 127.0.0.1)")
@click.option(
    "--port",
    type=int,
    default=None,
    help="listen port (default: PORT or 8000; 0: a free one)",
)
@handles_config_errors
def serve(host: str | None, port: int | None) -> None:
    """Run the API on the configured (or embedded) database and chain."""
    settings = get_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    if port == 0:
        port = free_port()
    step("starting services" + (" (embedded defaults)" if settings.embedded else ""))
    with embedded_services(settings) as endpoints:
        if endpoints.postgres is not None:
            done(f"embedded postgres ready ({settings.data_dir / 'postgres'})")
        if endpoints.anvil is not None:
            done(f"embedded anvil ready at {endpoints.rpc_url}")
        step("checking the database schema")
        asyncio.run(prepare_database(settings, endpoints.database_url))
        step("checking the core contracts")
        settings = ensure_core_contracts(settings, endpoints.rpc_url)
        if settings.push_pull_address:
            done(
                f"MultiTokenPushPull {settings.push_pull_address}, "
                f"ProductBankFactory {settings.bank_factory_address}"
            )
        try:
            run_server(settings, endpoints, host, port)
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the Ctrl-C it already handled by shutting down cleanly
        step("stopping embedded services" if settings.embedded else "shutting down")
    done("stopped")
