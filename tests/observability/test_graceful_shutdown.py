"""SIGTERM on `cascade serve`: in-flight request finishes, no new ones, clean exit, nothing left.

Runs the real command on embedded defaults, the way a process manager stops it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from backend.runtime.anvil import free_port

CASCADE = str(Path(sys.executable).parent / "cascade")


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("serve never came up")


def _processes_under(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"]
        if cmdline and str(path) in " ".join(cmdline):
            found.append(proc)
    return found


def _read_response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_sigterm__finishes_in_flight_request_refuses_new_ones_and_stops_everything(pg_tmp_path):
    sigterm_scenario([CASCADE, "serve"], pg_tmp_path)


def sigterm_scenario(command: list[str], pg_tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "RPC_URL"}}
    env.update(DATA_DIR=str(pg_tmp_path / "data"), LOG_FORMAT="json", PUSH_INTERVAL_S="3600")
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=pg_tmp_path,
    )
    started: list[psutil.Process] = []
    try:
        _wait_ready(port, process)
        started = psutil.Process(process.pid).children(recursive=True)
        started += _processes_under(pg_tmp_path)

        body = b'{"name": "Slow shop", "domains": ["slow.example"]}'
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(
            b"POST /api/business/products HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10]
        )
        time.sleep(0.5)  # the request is now in flight, waiting for the rest of its body

        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        with pytest.raises(httpx.HTTPError):  # no new requests
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2)

        sock.sendall(body[10:])
        response = _read_response(sock)
        sock.close()
        assert response.startswith(b"HTTP/1.1 401"), response[:200]  # answered, not cut off
        assert b"connection: close" in response.lower()

        output = process.communicate(timeout=90)[0].decode()
        assert process.returncode == 0, output
        assert "stopped" in output
        time.sleep(0.5)
        assert [p for p in started if p.is_running() and p.status() != "zombie"] == []
        assert _processes_under(pg_tmp_path) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for proc in started:  # only what this test started, by pid
            if proc.is_running():
                proc.kill()
