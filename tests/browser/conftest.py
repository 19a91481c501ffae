"""Browser suite: the harness fixtures, plus the backend served for real on a loopback port."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.core.config import Settings
from tests.auth.conftest import build_app
from tests.browser.harness.fixtures import *  # noqa: F403 (fixtures and the failure hook)
from tests.browser.harness.servers import LiveServer, StaticSite

SDK_DIR = Path(__file__).resolve().parents[2] / "sdk-js"


def ensure_sdk_built() -> None:
    """The listener page loads sdk-js/dist; `make test` builds it, a bare pytest run may not."""
    if (SDK_DIR / "dist" / "listener.js").exists():
        return
    if not (SDK_DIR / "node_modules").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True)
    subprocess.run(["npm", "run", "build", "--silent"], cwd=SDK_DIR, check=True)


# module scope: a served app runs its own evaluator, which must not outlive the
# module and evaluate other suites' interactions behind their backs
@pytest.fixture(scope="module")
def live_server(
    settings: Settings, database_url: str, static_site: StaticSite
) -> Iterator[LiveServer]:
    """The app under uvicorn at http://localhost:<port>, on the test database and anvil.

    The static site's origin is a LISTENER_ORIGINS entry, so its pages may embed
    the listener of any product (the "shop" of the end-to-end test).
    """
    ensure_sdk_built()

    def factory(port: int) -> object:
        served = settings.model_copy(
            update={
                "port": port,
                "public_url": f"http://localhost:{port}",
                "listener_origins": [static_site.origin],
            }
        )
        return build_app(served, None)

    server = LiveServer(factory).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_rate_limits(live_server: LiveServer) -> None:
    """Every browser test comes from 127.0.0.1: start each with empty auth windows."""
    env = live_server.app.state.get("auth_env")
    if env is not None:
        env.limits.reset()
