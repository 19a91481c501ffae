"""`cascade serve`: the API (and, as later issues add them, the jobs) in one process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from typing import Any

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


WORKER_SPEC_ENV = "CASCADE_SERVE_WORKER_SPEC"


def worker_app() -> Any:
    """The app of one `--workers` process: uvicorn imports this in every worker.

    The parent has already started the services, checked the schema and the
    contracts; it hands the resulting settings and endpoints down in the
    environment. Every worker runs the scheduler: its leader-only jobs run in
    whichever process holds the leader advisory lock (backend.core.scheduler).
    """
    from backend.api.app import create_app
    from backend.core.logs import configure_logging

    spec = json.loads(os.environ[WORKER_SPEC_ENV])
    settings = Settings.model_validate(spec["settings"])
    configure_logging(settings.log_format, settings.log_level)
    return create_app(
        settings, database_url=spec["database_url"], rpc_url=spec["rpc_url"], run_jobs=True
    )


def run_server(
    settings: Settings, endpoints: Endpoints, host: str, port: int, workers: int = 1
) -> None:
    import uvicorn

    from backend.api.app import create_app

    if workers > 1:
        os.environ[WORKER_SPEC_ENV] = json.dumps(
            {
                "settings": settings.model_dump(mode="json"),
                "database_url": endpoints.database_url,
                "rpc_url": endpoints.rpc_url,
            }
        )
        done(f"listening on http://{host}:{port} with {workers} workers (docs: /schema)")
        uvicorn.run(
            "backend.cli.serve:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            lifespan="on",
        )
        return

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
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="API processes. More use more cores, but caches are per process: a revoked API "
    "key, a product or campaign change made through another process and a new referral "
    "edge are seen when the cache expires (5, 10, 5 and 30 s), and the per-IP limit "
    "counts per process.",
)
@handles_config_errors
def serve(host: str | None, port: int | None, workers: int) -> None:
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
            run_server(settings, endpoints, host, port, workers)
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the Ctrl-C it already handled by shutting down cleanly
        step("stopping embedded services" if settings.embedded else "shutting down")
    done("stopped")
