"""What a running process shares: settings, the database pool, the chain connection.

The app, the scheduler's jobs and CLI commands each build one; services receive
it (or just the pieces they need) instead of reaching for globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.core.config import Settings
from backend.core.db import create_engine, session_factory


@dataclass
class AppContext:
    settings: Settings
    database_url: str
    rpc_url: str
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    _w3: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(self.database_url)
        self.sessions = session_factory(self.engine)

    @property
    def w3(self) -> Any:
        """An AsyncWeb3 on RPC_URL, created on first use (web3 import is slow)."""
        if self._w3 is None:
            from web3 import AsyncHTTPProvider, AsyncWeb3
            from web3.types import RPCEndpoint

            # eth_chainId is asked before every contract call and transaction web3 builds
            # (13 of a push's 42 requests); a URL's chain never changes, so ask it once
            provider = AsyncHTTPProvider(
                self.rpc_url,
                request_kwargs={"timeout": 10},
                cache_allowed_requests=True,
                cacheable_requests={RPCEndpoint("eth_chainId")},
            )
            self._w3 = AsyncWeb3(provider)
        return self._w3

    async def close(self) -> None:
        if self._w3 is not None:
            provider = self._w3.provider
            if hasattr(provider, "disconnect"):
                await provider.disconnect()
        await self.engine.dispose()
