"""`cascade serve`: the API and its jobs in one process (or `--workers` of them), and the
evaluator in one process of its own beside them (backend.runtime.evaluator)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, step
from backend.core import migrate
from backend.core.config import ConfigError, Settings
from backend.core.db import create_engine
from backend.runtime.anvil import free_port
from backend.runtime.contracts import ensure_core_contracts
from backend.runtime.evaluator import EvaluatorProcess
from backend.runtime.services import Endpoints, embedded_services
from backend.runtime.spec import ServeSpec

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


def worker_app() -> Any:
    """The app of one `--workers` process: uvicorn imports this in every worker.

    The parent has already started the services, checked the schema and the
    contracts; it hands the resulting settings and endpoints down in the
    environment. Every worker runs the scheduler: its leader-only jobs run in
    whichever process holds the leader advisory lock (backend.core.scheduler).
    """
    from backend.core.logs import configure_logging

    spec = ServeSpec.from_environ()
    configure_logging(spec.settings.log_format, spec.settings.log_level)
    return _app(spec)


def _app(spec: ServeSpec) -> Any:
    """An API process's app: its evaluator is the process `run_server` starts beside it."""
    from backend.api.app import create_app

    return create_app(
        spec.settings,
        database_url=spec.database_url,
        rpc_url=spec.rpc_url,
        run_jobs=spec.run_jobs,
        evaluator="process",
        evaluator_metrics=Path(spec.evaluator_metrics),
    )


def run_server(
    settings: Settings,
    endpoints: Endpoints,
    host: str,
    port: int,
    workers: int = 1,
    *,
    run_jobs: bool = True,
) -> None:
    """The API processes, with the evaluator process beside them for as long as they run
    (bench/ingest.py runs it too, without the jobs)."""
    # uvicorn drains on SIGTERM, then re-raises it with the default handler, which would
    # kill us before the evaluator and embedded postgres/anvil are stopped; as
    # KeyboardInterrupt it reaches the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    spec = EvaluatorProcess.spec_for(
        settings, endpoints.database_url, endpoints.rpc_url, run_jobs=run_jobs
    )
    evaluator = EvaluatorProcess(spec)
    evaluator.start()
    try:
        _run_api(spec, host, port, workers)
    finally:
        evaluator.stop()


def _run_api(spec: ServeSpec, host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers > 1:
        os.environ.update(spec.environ())
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

    app = _app(spec)
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
    help="API processes (the evaluator is one more process beside them). Caches are per "
    "process and dropped by LISTEN/NOTIFY when what they hold changes; the per-IP limit "
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
