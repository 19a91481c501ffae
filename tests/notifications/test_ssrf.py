"""The SSRF guard: which addresses are refused, and how a vetted address is pinned."""

from __future__ import annotations

import ipaddress

import pytest

from backend.notifications import ssrf


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "ff02::1",
    ],
)
def test_forbidden__private_loopback_link_local_multicast_reserved(address):
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_allowed__public_unicast(address):
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) is None


async def test_vet__pins_the_vetted_address_keeps_host_and_sni(monkeypatch):
    async def resolve(host, port):
        assert (host, port) == ("hooks.example", 8443)
        return [ipaddress.ip_address("93.184.216.34")]

    monkeypatch.setattr(ssrf, "resolve", resolve)

    target = await ssrf.vet("https://hooks.example:8443/in?x=1", allow_private=False)

    assert str(target.url) == "https://93.184.216.34:8443/in?x=1"
    assert target.headers == {"host": "hooks.example:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example"}


async def test_vet__one_private_record_refuses_the_name(monkeypatch):
    async def resolve(host, port):
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]

    monkeypatch.setattr(ssrf, "resolve", resolve)

    with pytest.raises(ssrf.RefusedTarget, match="10.0.0.7 is private"):
        await ssrf.vet("https://rebind.example/", allow_private=False)


async def test_vet__allowed_endpoint_is_not_resolved_or_pinned(monkeypatch):
    async def resolve(host, port):
        raise AssertionError("allowed endpoints are not vetted")

    monkeypatch.setattr(ssrf, "resolve", resolve)

    target = await ssrf.vet("http://127.0.0.1:9/hook", allow_private=True)

    assert str(target.url) == "http://127.0.0.1:9/hook" and target.headers == {}
