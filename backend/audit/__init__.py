"""Audit: who changed what, before and after, when."""
