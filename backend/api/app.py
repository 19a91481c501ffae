"""The Litestar app factory: tests, the CLI and the demo each build their own app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.errors import EXCEPTION_HANDLERS, document_errors
from backend.api.health import live, ready
from backend.api.middleware import request_id_middleware
from backend.campaigns.service import delete_product as delete_product_and_pause_campaigns
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.core.heap import freeze_startup_objects
from backend.evaluation.worker import Evaluator, Mode
from backend.observability.middleware import metrics_middleware
from backend.products.authorization import resolve_principal
from backend.products.service import ProductDeleter

# Each domain exposes `route_handlers` in its routes module; listed here once.
DOMAIN_ROUTE_MODULES: Sequence[str] = (
    "backend.products.routes",
    "backend.campaigns.routes",
    "backend.fraud.routes",
    "backend.products.audit_routes",
    "backend.interactions.routes",
    "backend.auth.routes",
    "backend.listener.routes",
    "backend.notifications.routes",
    "backend.observability.routes",
    "backend.wallets.routes",
    "backend.relayer.routes",
    "backend.dashboard.routes",
)


def _domain_handlers() -> list[Any]:
    import importlib

    handlers: list[Any] = []
    for module_name in DOMAIN_ROUTE_MODULES:
        handlers.extend(importlib.import_module(module_name).route_handlers)
    return handlers


def create_app(
    settings: Settings,
    *,
    database_url: str,
    rpc_url: str,
    context: AppContext | None = None,
    debug: bool = False,
    run_jobs: bool = False,
    evaluator: Mode = "thread",
    evaluator_metrics: Path | None = None,
) -> Litestar:
    """Build the app around one AppContext (created here unless given).

    `run_jobs` starts the background scheduler (settlement push...) with the app;
    `cascade serve` sets it, tests build apps without jobs. `evaluator` says where stored
    interactions become rewards (backend.evaluation.worker): "thread" (default) runs the
    loop in this process with the lifespan, "process" when `cascade serve` runs it in a
    process of its own (which writes its metrics to `evaluator_metrics`), "none" nowhere.
    Without a lifespan (in-process test clients) it
    does not run, and a request that asks to wait evaluates its own product instead.
    """
    app_context = context or AppContext(settings, database_url, rpc_url)
    jobs: list[Any] = []
    evaluation = Evaluator(app_context, mode=evaluator, metrics_dir=evaluator_metrics)

    async def start_jobs(_: Litestar) -> None:
        from backend.core.scheduler import Scheduler
        from backend.runtime.jobs import register_all_jobs

        scheduler = Scheduler(app_context)
        register_all_jobs(scheduler)
        scheduler.start()
        jobs.append(scheduler)

    async def freeze_after_startup(_: Litestar) -> None:
        freeze_startup_objects()

    async def stop_jobs(_: Litestar) -> None:
        for scheduler in jobs:
            await scheduler.shutdown()

    def provide_context() -> AppContext:
        return app_context

    def provide_settings() -> Settings:
        return settings

    def provide_product_deleter() -> ProductDeleter:
        return delete_product_and_pause_campaigns

    async def provide_db_session() -> AsyncIterator[AsyncSession]:
        async with app_context.sessions() as session:
            try:
                yield session
            finally:
                if session.in_transaction():
                    await session.rollback()

    async def close_context(_: Litestar) -> None:
        if context is None:  # we own it
            await app_context.close()

    cors = (
        CORSConfig(allow_origins=settings.cors_origins, allow_credentials=True)
        if settings.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=[live, ready, *_domain_handlers()],
        dependencies={
            "app_context": Provide(provide_context, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
            "principal": Provide(resolve_principal),
            "product_deleter": Provide(provide_product_deleter, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_id_middleware, metrics_middleware],
        cors_config=cors,
        openapi_config=OpenAPIConfig(
            title="Cascade API",
            version="0.1.0",
            description="Rewards backend with on-chain settlement.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,  # our handler (backend.core.logs) stays the only one
        on_startup=[
            evaluation.start,
            *([start_jobs] if run_jobs else []),
            freeze_after_startup,  # last: everything above is loaded
        ],
        on_shutdown=[stop_jobs, evaluation.stop, close_context],
        debug=debug,
    )
    document_errors(h for route in app.routes for h in getattr(route, "route_handlers", ()))
    app.state.context = app_context
    app.state.evaluation = evaluation  # what `Prefer: wait` waits on
    return app
