"""PostgreSQL from the pgserver wheel, data under the data dir, over a unix socket."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """One pgserver instance. `start()` returns an asyncpg URL for `database`."""

    def __init__(self, data_dir: Path, database: str = "cascade"):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
            raise ValueError(f"bad database name {database!r}")
        self.pgdata = Path(data_dir).resolve() / "postgres"
        self.database = database
        self._server: Any = None

    def start(self) -> str:
        import pgserver

        log.info("starting embedded postgres", extra={"pgdata": str(self.pgdata)})
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        # sql-interpolation: the name matched [a-z_][a-z0-9_]{0,62} in __init__; psql binds nothing
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608
        exists = self._server.psql(query)
        if "(1 row)" not in exists:
            # sql-interpolation: the same checked name; CREATE DATABASE takes no parameters
            self._server.psql(f"CREATE DATABASE {self.database};")
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded postgres is not running")
        parts = urlsplit(self._server.get_uri())
        socket_dir = parse_qs(parts.query)["host"][0]
        return f"postgresql+asyncpg://postgres@/{self.database}?host={socket_dir}"

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        if self._server is not None:
            log.info("stopping embedded postgres")
            self._server.cleanup()
            self._server = None
