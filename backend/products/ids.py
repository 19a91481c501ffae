"""Identifiers derived from domains and secrets; one place so every caller agrees."""

from __future__ import annotations

import re
import secrets

from eth_utils import keccak

from backend.auth.tokens import hash_token

DOMAIN_PATTERN = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*(:[0-9]{1,5})?$"
)
API_KEY_PREFIX = "csk_"
PRODUCT_ID_PATTERN = re.compile(r"0x[0-9a-f]{64}")


def is_product_id(value: str) -> bool:
    """Whether `value` (lowercased) could be a product id: worth a query at all."""
    return PRODUCT_ID_PATTERN.fullmatch(value.lower()) is not None


def normalize_domain(domain: str) -> str:
    """Lowercase host[:port], no scheme or path; raises ValueError when not a domain."""
    value = domain.strip().lower()
    if not DOMAIN_PATTERN.match(value):
        raise ValueError(f"not a domain: {domain!r}")
    return value


def product_id_for(primary_domain: str) -> str:
    """Product id = keccak256 of the normalised primary domain, as 0x bytes32 hex."""
    return "0x" + keccak(text=normalize_domain(primary_domain)).hex()


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: (full key shown once, prefix for lists, sha256 hash stored)."""
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, f"{API_KEY_PREFIX}{prefix}", hash_token(key)
