"""Interactions: what users do on a product's site, stored once and evaluated."""
