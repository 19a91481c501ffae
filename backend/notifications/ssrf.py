"""Outbound requests reach only public addresses (unless an endpoint is explicitly allowed).

Stance on DNS rebinding: the host is resolved once per attempt, every address it
resolves to is vetted (one private record refuses the whole name), and the
request connects to the vetted address itself. The original name still goes in
the Host header and as TLS SNI, and the certificate is checked against that name,
so pinning the address does not weaken TLS. A second lookup by the HTTP client,
which a rebinding DNS server could answer differently, never happens.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(Exception):
    """The URL resolves to an address webhooks must not reach."""


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why an address is off limits, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return forbidden_reason(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return forbidden_reason(ip.sixtofour)
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{ip} is {name}"
    return None


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


async def resolve(host: str, port: int) -> list[IPAddress]:
    literal = literal_ip(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RefusedTarget(f"cannot resolve {host}: {exc.strerror}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone id
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise RefusedTarget(f"{host} resolves to no address")
    return addresses


@dataclass(frozen=True)
class Target:
    """Where to connect and what to tell the server (Host header, SNI)."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


async def vet(url: str, *, allow_private: bool) -> Target:
    """The request target for `url`: pinned to a vetted public address unless allowed."""
    parsed = httpx.URL(url)
    host = parsed.host
    if not host:
        raise RefusedTarget("URL has no host")
    if allow_private:
        return Target(parsed)
    if is_local_name(host):
        raise RefusedTarget(f"{host} is loopback")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await resolve(host, port)
    for ip in addresses:
        reason = forbidden_reason(ip)
        if reason is not None:
            raise RefusedTarget(f"{host} resolves to a refused address: {reason}")
    chosen = addresses[0]
    if literal_ip(host) is not None:
        return Target(parsed)
    headers = {"host": host if parsed.port is None else f"{host}:{parsed.port}"}
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return Target(parsed.copy_with(host=str(chosen)), headers, extensions)
