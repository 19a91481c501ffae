"""Dependencies shared by the business API routers.

`resolve_principal` declares its first parameter as `connection`, which Litestar
does not inject (its reserved names are `request` / `socket`), so the app-level
`principal` dependency fails with "missing query parameter 'connection'". The
business routers provide `principal` through this adapter instead; it can go
once the app-level provider passes the request.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal, resolve_principal


async def provide_principal(request: Request[Any, Any, Any], db_session: AsyncSession) -> Principal:
    return await resolve_principal(request, db_session)


BUSINESS_DEPENDENCIES = {"principal": Provide(provide_principal)}
