"""Campaigns: which interactions earn what, within which budget and time window."""
