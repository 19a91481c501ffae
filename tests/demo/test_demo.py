"""`cascade demo`: the story's checks hold, and every URL it prints answers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

CASCADE = str(Path(sys.executable).parent / "cascade")


def _env(data_dir: Path) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "RPC_URL", "PUSH_PULL_ADDRESS", "BANK_FACTORY_ADDRESS"}
    }
    environment.update(DATA_DIR=str(data_dir), LOG_FORMAT="json")
    return environment


def _leftovers(data_dir: Path) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and str(data_dir) in " ".join(p.info["cmdline"])
    ]


def test_demo_no_serve__every_check_holds(pg_tmp_path):
    result = subprocess.run(
        [CASCADE, "demo", "--no-serve", "--port", "0"],
        env=_env(pg_tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "every check held" in output
    assert "FAIL" not in output
    for who, amount in (("alice", "6.2"), ("bob", "9.8"), ("carol", "9.0"), ("dave", "5.0")):
        assert f"{who} can claim exactly {amount}" in output
    assert "reconcile: 4 (token, wallet) pairs, 0 mismatch(es)" in output
    assert _leftovers(pg_tmp_path) == []


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
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + rest
    time.sleep(0.5)
    assert _leftovers(pg_tmp_path) == []
