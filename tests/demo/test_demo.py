"""`cascade demo`: the story's checks hold, and every URL it prints answers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest

from tests.browser.harness import Page, VirtualAuthenticator
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
def demo_run() -> Iterator[subprocess.CompletedProcess[str]]:
    """One `cascade demo --no-serve` run, its output piped (not a terminal)."""
    data_dir = shared_tmp_dir("cascade-demo-")
    result = subprocess.run(
        [CASCADE, "demo", "--no-serve", "--port", "0"],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield result
    assert _leftovers(data_dir) == []
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_no_serve(demo_run: subprocess.CompletedProcess[str]) -> str:
    """The run's story, as printed."""
    return demo_run.stdout


def test_demo_no_serve__piped__stdout_is_the_story_alone_and_logs_stay_quiet(
    demo_run: subprocess.CompletedProcess[str],
):
    """No httpx request lines or JSON log lines among the story; below a warning, no log."""
    story = demo_run.stdout.splitlines()
    assert story and story[-1] == "==> every check held"
    strays = [line for line in story if not line.startswith("==> ")]
    assert strays == [], strays
    logged = [line for line in demo_run.stderr.splitlines() if line.startswith("{")]
    assert not [line for line in logged if '"level": "info"' in line or "HTTP Request" in line]


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


@dataclass
class ServedDemo:
    urls: dict[str, str]  # label -> URL, as printed
    output: list[str]  # every line printed so far (a thread keeps reading)

    @property
    def backend(self) -> str:
        return self.urls["API docs"].removesuffix("/schema")


@pytest.fixture(scope="module")
def served_demo() -> Iterator[ServedDemo]:
    """`cascade demo` serving; stopped with Ctrl-C (SIGINT) after the module's tests."""
    data_dir = shared_tmp_dir("cascade-demo-served-")
    process = subprocess.Popen(
        [CASCADE, "demo", "--port", "0"],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = stdout.readline()
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
            if "API docs:" in line:
                break
        # keep reading: a full pipe would block the server's logging, hence the server
        reader.start()
        urls = dict(re.findall(r"==>\s+([^:\n]+): (http://\S+)", "".join(lines)))
        yield ServedDemo(urls, lines)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    if reader.is_alive():
        reader.join(timeout=10)
    assert process.returncode == 0, "".join(lines)
    time.sleep(0.5)
    assert _leftovers(data_dir) == []
    shutil.rmtree(data_dir, ignore_errors=True)


def test_demo__serves_and_every_printed_url_answers_200(served_demo: ServedDemo):
    urls = served_demo.urls
    assert set(urls) == {
        "dashboard (one-time login link for the owner)",
        "wallet page (Bob)",
        "wallet page (Erin, a passkey wallet)",
        "demo shop with the SDK",
        "API docs",
    }, "".join(served_demo.output)
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
        held = browser.get(f"{served_demo.backend}/api/wallet/{erin['address'][0]}/balances")
        assert [t["balance"] for t in held.json()["tokens"]] == [str(3 * 10**18)]
        assert held.json()["account_deployed"] is True


async def _create_passkey_wallet(page: Page, url: str) -> str:
    """Open the served shop, "Open wallet", "Create your wallet with a passkey": the wallet."""
    await page.goto(url)
    await page.wait_for("window.shop && window.shop.client !== null", timeout_s=30)
    await page.wait_for("window.shop.statuses.length > 0", timeout_s=30)
    listener = await page.frame("/listener?")
    assert await page.evaluate("typeof window.ethereum", frame=listener) == "undefined"
    await page.click_text("wallet", selector="#open-wallet")
    await page.click_text("Create your wallet with a passkey", frame=listener)
    return str(
        await page.wait_for("document.querySelector('#wallet').dataset.wallet", timeout_s=30)
    )


async def test_demo__served_shop_in_a_browser_without_a_wallet__refer_buy_claim_send(
    served_demo: ServedDemo, browser
):
    """What a visitor does with the served demo in a browser with no wallet extension:
    a passkey wallet shares a link, a friend's passkey wallet buys through it, and the
    friend claims without gas and sends on the wallet page, with the demo's own jobs."""
    shop_url = served_demo.urls["demo shop with the SDK"]
    referrer, buyer = await Page.open(browser), await Page.open(browser)
    try:
        for tab in (referrer, buyer):
            await VirtualAuthenticator.add(tab)
        await _create_passkey_wallet(referrer, shop_url)
        await referrer.click_text("", selector="#share")
        link = await referrer.wait_for("document.querySelector('#share-link').value")

        wallet = await _create_passkey_wallet(buyer, link)
        await buyer.click_text("", selector="#buy")
        await buyer.wait_for("document.querySelector('#order').dataset.tracked === 'yes'")
        await buyer.click_text("", selector="#pay")
        await buyer.wait_for("document.querySelector('#order').dataset.state === 'paid'")
        # the scheduler pushes (every 10 s), the chain mines, the indexer reads the credit
        share = str(5 * 10**18)  # 50 % of 10 EURe; the referrer takes the other half
        await buyer.wait_for(
            f"document.querySelector('#wallet-tokens li')?.dataset.claimable === '{share}'",
            timeout_s=120,
        )

        await buyer.goto(f"{served_demo.backend}/wallet?address={wallet}")
        await buyer.click_text("Sign in with your passkey")
        await buyer.wait_for("!document.getElementById('signed-in').hidden", timeout_s=30)
        await buyer.wait_for("!document.getElementById('claim-all').disabled", timeout_s=30)
        await buyer.click_text("", selector="#claim-all")
        await buyer.wait_for(
            "document.getElementById('claim-progress').dataset.status === 'mined'", timeout_s=60
        )
        row = "#balance-rows tr [data-field=balance]"
        await buyer.wait_for(f"document.querySelector('{row}')?.textContent === '5'")

        friend = "0x" + "f7" * 20
        await buyer.type("#send-to", friend)
        await buyer.type("#send-amount", "1.5")
        await buyer.click_text("", selector="#send-submit")
        await buyer.wait_for(
            "['mined', 'failed'].includes(document.getElementById('send-progress').dataset.status)",
            timeout_s=60,
        )
        progress = await buyer.evaluate("document.getElementById('send-progress').textContent")
        assert progress.startswith(f"Sent 1.5 EURe to {friend}. Transaction: 0x"), progress
        await buyer.wait_for(f"document.querySelector('{row}')?.textContent === '3.5'")
        async with httpx.AsyncClient(timeout=20) as client:
            held = await client.get(f"{served_demo.backend}/api/wallet/{friend}/balances")
        assert [t["balance"] for t in held.json()["tokens"]] == [str(15 * 10**17)]
    finally:
        for tab in (referrer, buyer):
            await tab.close()
