"""Every Prometheus series Cascade exposes, in one registry, so names are defined once.

Domains import the objects here and increment them; `/metrics` renders this
registry plus whatever other code registered on prometheus_client's default
registry (process metrics, and counters a domain declared itself). When a
default-registry family has the same name as one of ours, the default one is
shown: it is the one its owner increments, and a family must appear only once.

Labelled series are created with their known label values up front, so a scrape
shows explicit zeros instead of a missing series before the first event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

# `*_created` timestamps double the exposition and no dashboard of ours reads them.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds; web requests are mostly fast, jobs may take a while.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)

HTTP_REQUESTS = Counter(
    "cascade_http_requests_total",
    "HTTP requests by route template, method and status class (2xx, 4xx, ...)",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "cascade_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
REWARDS = Gauge(
    "cascade_rewards",
    "Reward rows by status (counted from the database at scrape time)",
    ["status"],
    registry=REGISTRY,
)
SETTLEMENT_BATCHES = Counter(
    "cascade_settlement_batches_total",
    "Settlement batches by outcome (pushed, void, failed, reorged)",
    ["outcome"],
    registry=REGISTRY,
)
GAS_SPENT = Counter(
    "cascade_gas_spent_total",
    "Native currency the signer paid for gas, in wei (gas used x effective gas price)",
    registry=REGISTRY,
)
SIGNER_BALANCE = Gauge(
    "cascade_signer_balance_wei",
    "Native balance of the backend signer, in wei (last observation)",
    registry=REGISTRY,
)
INDEXER_LAG = Gauge(
    "cascade_indexer_lag_blocks",
    "Blocks between the chain head and the indexer's checkpoint (last observation)",
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "cascade_webhook_deliveries_total",
    "Outbound webhook attempts by outcome",
    ["outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "cascade_job_duration_seconds",
    "Duration of one run of a background job",
    ["job"],
    buckets=JOB_BUCKETS,
    registry=REGISTRY,
)
ALERTS = Counter(
    "cascade_alerts_total",
    "Alerts raised (a repeat of an open alert is not counted again), by stable code",
    ["code"],
    registry=REGISTRY,
)
OPEN_ALERTS = Gauge(
    "cascade_alerts_open",
    "Unresolved alerts by severity (counted from the database at scrape time)",
    ["severity"],
    registry=REGISTRY,
)

REWARD_STATUSES = ("pending", "batched", "pushed", "cancelled")
BATCH_OUTCOMES = ("pushed", "void", "failed", "reorged")
WEBHOOK_OUTCOMES = ("delivered", "retry", "dead", "gone", "refused")
ALERT_SEVERITIES = ("warning", "error", "critical")
JOBS = ("settlement_push", "webhook_delivery", "indexer", "monitors")


def _initialise_labels() -> None:
    for status in REWARD_STATUSES:
        REWARDS.labels(status=status)
    for outcome in BATCH_OUTCOMES:
        SETTLEMENT_BATCHES.labels(outcome=outcome)
    for outcome in WEBHOOK_OUTCOMES:
        WEBHOOK_DELIVERIES.labels(outcome=outcome)
    for severity in ALERT_SEVERITIES:
        OPEN_ALERTS.labels(severity=severity)
    for job in JOBS:
        JOB_DURATION.labels(job=job)


_initialise_labels()


# Families counted by another process of this deployment (the evaluator process of
# `cascade serve`), read from prometheus_client's multiprocess files: name -> directory.
_elsewhere: dict[str, Path] = {}


def counted_elsewhere(directory: Path, names: Iterable[str]) -> None:
    """Show the families `names` as the process writing `directory` counts them (its
    PROMETHEUS_MULTIPROC_DIR), instead of this process's own (idle) series."""
    for name in names:
        _elsewhere[name] = directory


def counted_here(names: Iterable[str]) -> None:
    """Undo `counted_elsewhere` for `names` (the other process is stopped)."""
    for name in names:
        _elsewhere.pop(name, None)


def _collect_elsewhere() -> list[Metric]:
    from prometheus_client.multiprocess import MultiProcessCollector

    families: list[Metric] = []
    for directory in sorted(set(_elsewhere.values())):
        if not directory.is_dir():
            continue
        try:
            found = MultiProcessCollector(None, path=str(directory)).collect()
            families += [f for f in found if _elsewhere.get(f.name) == directory]
        except Exception:  # a file being rewritten: show this scrape without them
            continue
    return families


class _Exposition:
    """Our families, then the default registry's; on a name clash the default one wins,
    and a family counted elsewhere (`counted_elsewhere`) replaces both."""

    def collect(self) -> Iterator[Metric]:
        elsewhere = _collect_elsewhere() if _elsewhere else []
        skip = set(_elsewhere)
        others = [f for f in DEFAULT_REGISTRY.collect() if f.name not in skip]
        taken = family_names(others) | skip
        for family in REGISTRY.collect():
            if family.name not in taken:
                yield family
        yield from others
        yield from elsewhere


def render() -> bytes:
    """The Prometheus text exposition of every series."""
    return generate_latest(_Exposition())  # type: ignore[arg-type]  # duck-typed collector


def family_names(families: Iterable[Metric]) -> set[str]:
    return {family.name for family in families}
