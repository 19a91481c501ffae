"""`cascade serve` as a real process: ready on embedded defaults, clean on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from backend.runtime.anvil import free_port

CASCADE = str(Path(sys.executable).parent / "cascade")


def _start(pg_tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "RPC_URL"}}
    environment.update(DATA_DIR=str(pg_tmp_path / "data"), LOG_FORMAT="json", **env)
    process = subprocess.Popen(
        [CASCADE, "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=pg_tmp_path,
    )
    return process, port


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("serve never became ready")


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output.decode()


def test_serve__embedded_defaults_ready_then_ctrl_c_leaves_nothing(pg_tmp_path):
    process, port = _start(pg_tmp_path)
    try:
        ready = _wait_ready(port, process)
        assert ready.json()["checks"]["database"]["ok"] is True
        contracts = json.loads((pg_tmp_path / "data" / "contracts.json").read_text())
        assert contracts["push_pull"].startswith("0x") and contracts["bank_factory"]
        children = _descendants(process.pid)
        names = {child.name() for child in children}
        assert "anvil" in names
        # postgres is started by pg_ctl and re-parented; find it through its data dir too
        pgdata = str(pg_tmp_path / "data" / "postgres")
        pg_pids = [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and pgdata in " ".join(p.info["cmdline"])
        ]
        assert pg_pids
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    time.sleep(0.5)
    survivors = [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and str(pg_tmp_path) in " ".join(p.info["cmdline"])
    ]
    assert survivors == []
    assert "listening on" in output and "stopped" in output


def test_serve__given_urls_starts_no_embedded_service(pg_tmp_path, database_url, rpc_url):
    process, port = _start(
        pg_tmp_path,
        DATABASE_URL=database_url,
        RPC_URL=rpc_url,
        SECRET_KEY="x" * 32,
        SIGNER_KEY="0x" + "22" * 32,
    )
    try:
        ready = _wait_ready(port, process)
        assert ready.json()["status"] == "ready"
        names = {child.name() for child in _descendants(process.pid)}
        assert "anvil" not in names
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert not (pg_tmp_path / "data" / "postgres").exists()
    assert "embedded" not in output.split("listening on")[0].replace("(embedded defaults)", "")
