"""Metrics, request instrumentation and operator alerts shared by every domain."""
