from __future__ import annotations

import pytest

from tests.interactions.helpers import reset_caches


@pytest.fixture(autouse=True)
def _fresh_caches():
    reset_caches()
    yield
    reset_caches()
