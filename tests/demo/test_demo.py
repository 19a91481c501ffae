"""`cascade demo`: the story's checks hold, and every URL it prints answers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest

from tests.conftest import shared_tmp_dir

CASCADE = str(Path(sys.executable).parent / "cascade")


def _env(data_dir: Path) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "RPC_URL",
            "PUSH_PULL_ADDRESS",
            "BANK_FACTORY_ADDRESS",
            "ACCOUNT_FACTORY_ADDRESS",
        }
    }
    environment.update(DATA_DIR=str(data_dir), LOG_FORMAT="json")
    return environment


def _leftovers(data_dir: Path) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and str(data_dir) in " ".join(p.info["cmdline"])
    ]


@pytest.fixture(scope="module")
def demo_no_serve() -> Iterator[str]:
    """One `cascade demo --no-serve` run (its printed output) for the checks below."""
    data_dir = shared_tmp_dir("cascade-demo-")
    result = subprocess.run(
        [CASCADE, "demo", "--no-serve", "--port", "0"],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    yield output
    assert _leftovers(data_dir) == []
    shutil.rmtree(data_dir, ignore_errors=True)


def test_demo_no_serve__every_check_holds(demo_no_serve: str):
    output = demo_no_serve
    assert "every check held" in output
    assert "FAIL" not in output
    for who, amount in (("alice", "6.2"), ("bob", "9.8"), ("carol", "9.0"), ("dave", "5.0")):
        assert f"{who} can claim exactly {amount}" in output
    assert "reconcile: 5 (token, wallet) pairs, 0 mismatch(es)" in output


def test_demo_no_serve__the_shopper_without_a_wallet__earns_claims_and_sends_gas_free(
    demo_no_serve: str,
):
    """Erin: a passkey is her wallet; every step printed with its check."""
    output = demo_no_serve
    checks = [
        "sign-up asks for a resident ES256 passkey with user verification (the account's key)",
        "erin's wallet is her passkey's account: factory.getAddress(x, y, sha256('localhost'), 0)",
        "erin's account is not deployed yet: nothing paid for it so far",
        "signing in with the passkey alone opens the same wallet",
        "erin can claim exactly 5.0",
        "alice can claim exactly 11.2 (6.2 + 5.0 from erin's purchase)",
        "erin's account holds exactly 5.0 EURe",
        "the passkey signs the EIP-712 digest of (transfer call, nonce, deadline) for her account",
        "a signature over anything else is refused: by the backend (401) and on-chain (bad auth)",
        "erin's account checked her passkey signature on-chain (P-256 precompile) and ran it",
        "Frank holds 2.0 EURe, erin keeps 3.0 EURe",
        "erin's account exists now; the relayer paid; she still has 0 ETH",
        "sending the same signed operation again relays nothing new",
    ]
    for check in checks:
        assert f"ok    {check}" in output, check
    assert re.search(
        r"ok    the relayer 0x[0-9a-fA-F]{8}… paid the gas; erin's account has 0 ETH", output
    )
    wallet = re.search(r"erin's wallet: (0x[0-9a-fA-F]{40})", output)
    assert wallet is not None
    # the steps come in the story's order: sign up, buy, claim, send
    order = [
        output.index("erin has no crypto wallet"),
        output.index("erin lands through alice's link and buys (order 1004)"),
        output.index("erin claims without gas"),
        output.index("erin sends 2.0 EURe to her friend Frank"),
    ]
    assert order == sorted(order)


def test_demo__serves_and_every_printed_url_answers_200(pg_tmp_path):
    process = subprocess.Popen(
        [CASCADE, "demo", "--port", "0"],
        env=_env(pg_tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
            if "API docs:" in line:
                break
        output = "".join(lines)
        urls = dict(re.findall(r"==>\s+([^:\n]+): (http://\S+)", output))
        assert set(urls) == {
            "dashboard (one-time login link for the owner)",
            "wallet page (Bob)",
            "wallet page (Erin, a passkey wallet)",
            "demo shop with the SDK",
            "API docs",
        }, output
        with httpx.Client(follow_redirects=True, timeout=20) as browser:
            responses = {label: browser.get(url) for label, url in urls.items()}
            for label, response in responses.items():
                assert response.status_code == 200, (label, urls[label], response.status_code)
            # the one-time link signed the owner in and landed on the dashboard...
            login = responses["dashboard (one-time login link for the owner)"]
            assert login.url.path.startswith("/dashboard")
            # ...and it is single use
            again = browser.get(urls["dashboard (one-time login link for the owner)"])
            assert again.status_code == 401
            # the shop's server takes payment: Cascade receives the signed orders/paid webhook
            shop = urlsplit(urls["demo shop with the SDK"])
            assert parse_qs(shop.query)["checkout"] == ["/checkout"]
            checkout = f"{shop.scheme}://{shop.netloc}/checkout"
            paid = browser.post(
                checkout,
                json={
                    "order_id": "1734567890123456789",
                    "checkout_token": "0f" * 16,
                    "total_price": "89.00",
                    "currency": "EUR",
                },
            )
            assert (paid.status_code, paid.json()) == (200, {"webhook_status": 200})
            assert browser.post(checkout, content=b"not json").status_code == 400
            # the passkey wallet's page shows what it holds: 3 EURe after sending 2 to Frank
            erin = parse_qs(urlsplit(urls["wallet page (Erin, a passkey wallet)"]).query)
            base = urls["API docs"].removesuffix("/schema")
            held = browser.get(f"{base}/api/wallet/{erin['address'][0]}/balances").json()
            assert [t["balance"] for t in held["tokens"]] == [str(3 * 10**18)]
            assert held["account_deployed"] is True
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + rest
    time.sleep(0.5)
    assert _leftovers(pg_tmp_path) == []
