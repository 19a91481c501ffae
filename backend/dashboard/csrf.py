"""CSRF tokens for the dashboard's forms, derived from the session cookie.

The token is an HMAC of the session cookie under the server secret: a page
from another site can make the browser send the cookie, but cannot read it,
so it cannot compute the token. Nothing is stored; logging out (a new cookie)
changes the token. Scoped to /dashboard: the JSON API uses no cookie-only
state-changing routes that this would need to cover.
"""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_for(secret: str, session_cookie: str) -> str:
    return hmac.new(
        secret.encode(), b"dashboard-csrf:" + session_cookie.encode(), hashlib.sha256
    ).hexdigest()


def is_valid(secret: str, session_cookie: str | None, submitted: str | None) -> bool:
    if not session_cookie or not submitted:
        return False
    return hmac.compare_digest(token_for(secret, session_cookie), submitted)
