"""Simulated crashes for in-process tests (the subprocess matrix uses a real SIGKILL)."""

from __future__ import annotations

import pytest

from backend.settlement import faults


class SimulatedCrash(BaseException):
    """Like SIGKILL for the code under test: nothing catches a BaseException it does not expect."""


def crash_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    def crash_point(name: str) -> None:
        if name == step:
            raise SimulatedCrash(step)

    monkeypatch.setattr(faults, "crash_point", crash_point)
