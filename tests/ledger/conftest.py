"""The settlement suite's chain fixtures (core contracts, a funded bank per test), shared."""

from tests.settlement.conftest import core, env, w3  # noqa: F401 - re-exported fixtures
