"""Crash injection for the evaluator's crash tests: SIGKILL this process at a named step.

The pattern of backend.settlement.faults, with the evaluator's own steps: inert
unless CASCADE_CRASH_AT names the step; CASCADE_CRASH_AFTER=n (default 1) kills at
the n-th time the step is reached. A real SIGKILL: no `finally`, no rollback runs.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

# Steps, in the order a batch meets them.
STEPS = (
    "evaluation.claimed",  # products and queue rows locked, nothing read yet
    "evaluation.loaded",  # campaign snapshots locked and read
    "evaluation.edges_recorded",  # referral decisions written (not committed)
    "evaluation.applied",  # charges, counters and reward rows written (not committed)
    "evaluation.marked",  # queue rows deleted (not committed)
    "evaluation.committed",  # committed; metrics and wake-ups not yet done
)

_hits: Counter[str] = Counter()


def crash_point(step: str) -> None:
    """Kill the process here when the environment asks for it (tests only)."""
    target = os.environ.get("CASCADE_CRASH_AT")
    if not target or target != step:
        return
    _hits[step] += 1
    if _hits[step] >= int(os.environ.get("CASCADE_CRASH_AFTER", "1")):
        os.kill(os.getpid(), signal.SIGKILL)
