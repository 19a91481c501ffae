from __future__ import annotations

import pytest

from tests.interactions.helpers import reset_caches
from tests.settlement.conftest import core, env, w3  # noqa: F401  (chain fixtures)


@pytest.fixture(autouse=True)
def _fresh_caches():
    reset_caches()
    yield
    reset_caches()
