"""Minimal event indexer: MultiTokenPushPull and ProductBank events into Postgres.

Public entry points: `index_once(ctx)` (catch up once; the scheduler's job) and
`run_indexer(ctx, stop)` (follow the chain; `cascade index`).
"""

from indexer.runner import Indexer, IndexStats, index_once, open_indexer, run_indexer

__all__ = ["IndexStats", "Indexer", "index_once", "open_indexer", "run_indexer"]
