"""Referral fraud: signals recorded with interactions, rules per product, held rewards."""
