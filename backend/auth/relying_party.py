"""Who the WebAuthn relying party is: its id, the origins ceremonies may come from.

Derived from settings once per app: RP_ID if set, else the host of PUBLIC_URL,
else the listen host. Browsers refuse IP addresses as RP ids, so a loopback or
wildcard listen address becomes "localhost".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from backend.core.config import Settings

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", "::"})


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: tuple[str, ...]  # clientDataJSON.origin must be one of these, exactly
    public_origin: str  # where users reach the backend (the listener's origin)
    secure_cookies: bool  # False only when the public host is loopback (plain http dev)

    @property
    def domain(self) -> str:
        """The RFC 3986 authority shown in Sign-In with Ethereum messages."""
        return urlsplit(self.public_origin).netloc


def origin_of(url: str) -> str:
    """Serialise an URL's origin as browsers do: scheme, lower-case host, non-default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{scheme}://{host}{port}"


def relying_party(settings: Settings) -> RelyingParty:
    listen_host = settings.host if settings.host not in LOOPBACK_HOSTS else "localhost"
    if settings.public_url:
        public_origin = origin_of(settings.public_url)
    else:
        public_origin = origin_of(f"http://{listen_host}:{settings.port}")
    public_host = urlsplit(public_origin).hostname or listen_host
    rp_id = settings.rp_id or (public_host if public_host not in LOOPBACK_HOSTS else "localhost")
    origins = [public_origin]
    if rp_id == "localhost":
        # dev and tests: the browser may reach a loopback server as localhost:<port>
        origins.append(f"http://localhost:{settings.port}")
    return RelyingParty(
        id=rp_id,
        name="Cascade",
        origins=tuple(dict.fromkeys(origins)),
        public_origin=public_origin,
        secure_cookies=public_host not in LOOPBACK_HOSTS,
    )
