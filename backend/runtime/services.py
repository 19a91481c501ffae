"""Start what the configuration leaves embedded; stop it in reverse order on exit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from backend.core.config import Settings
from backend.runtime.anvil import EmbeddedAnvil
from backend.runtime.postgres import EmbeddedPostgres

log = logging.getLogger(__name__)


@dataclass
class Endpoints:
    database_url: str
    rpc_url: str
    postgres: EmbeddedPostgres | None = None
    anvil: EmbeddedAnvil | None = None


@contextlib.contextmanager
def embedded_services(
    settings: Settings, *, need_database: bool = True, need_chain: bool = True
) -> Iterator[Endpoints]:
    """Yield the URLs to use; embedded pieces live exactly as long as the block."""
    with contextlib.ExitStack() as stack:
        postgres = anvil = None
        database_url = settings.database_url or ""
        rpc_url = settings.rpc_url or ""
        if need_database and settings.embedded_database:
            postgres = EmbeddedPostgres(settings.data_dir)
            database_url = postgres.start()
            stack.callback(postgres.stop)  # callbacks run last-in first-out
        if need_chain and settings.embedded_chain:
            anvil = EmbeddedAnvil(
                chain_id=settings.chain_id or 31337,
                state_file=settings.data_dir / "anvil" / "state.json",
                log_file=settings.data_dir / "anvil.log",
            )
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            rpc_url = anvil.start()
            stack.callback(anvil.stop)
        yield Endpoints(database_url, rpc_url, postgres, anvil)
