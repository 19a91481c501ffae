"""Minimal event indexer: MultiTokenPushPull and ProductBank events into Postgres."""
