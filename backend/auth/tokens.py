"""How secrets are kept at rest: one hash for API keys and session tokens alike."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    """Secrets at rest (API keys, session tokens) are stored as sha256 hex only."""
    return hashlib.sha256(token.encode()).hexdigest()
