"""The evaluator's series, on prometheus_client's default registry (rendered by /metrics).

The evaluator process of `cascade serve` counts them in prometheus_client's multiprocess
files (PROMETHEUS_MULTIPROC_DIR = `process_dir(...)`); the API processes show those.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

EVALUATED = Counter(
    "cascade_interactions_evaluated_total",
    "Interactions evaluated (their rewards written, or found to earn nothing)",
)
BATCH_SIZE = Histogram(
    "cascade_evaluation_batch_size",
    "Interactions per committed evaluation batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
LAG = Histogram(
    "cascade_evaluation_lag_seconds",
    "From an interaction stored to its evaluation committed",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0),
)
QUEUE_OLDEST = Gauge(
    "cascade_evaluation_queue_oldest_seconds",
    "Age of the oldest interaction waiting for evaluation (0 when none), last observation",
    multiprocess_mode="mostrecent",
)

FAMILIES = (
    "cascade_interactions_evaluated",
    "cascade_evaluation_batch_size",
    "cascade_evaluation_lag_seconds",
    "cascade_evaluation_queue_oldest_seconds",
)


def process_dir(data_dir: Path, serve_pid: int) -> Path:
    """Where the evaluator process of the `cascade serve` with this pid writes its series
    (one directory per serve: two on one host may share a DATA_DIR)."""
    return data_dir / "run" / "evaluator-metrics" / str(serve_pid)
