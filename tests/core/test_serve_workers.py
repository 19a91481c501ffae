"""`cascade serve --workers N`: N API processes behind one port, stopped by one Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import psutil

from backend.runtime.anvil import free_port
from tests.core.test_serve import CASCADE, _stop, _wait_ready
from tests.observability.samples import parse


def test_serve__two_workers__both_serve_and_ctrl_c_stops_them(pg_tmp_path, database_url, rpc_url):
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "RPC_URL"}}
    environment.update(
        DATA_DIR=str(pg_tmp_path / "data"),
        LOG_FORMAT="json",
        DATABASE_URL=database_url,
        RPC_URL=rpc_url,
        SECRET_KEY="x" * 32,
        SIGNER_KEY="0x" + "22" * 32,
    )
    process = subprocess.Popen(
        [CASCADE, "serve", "--port", str(port), "--workers", "2"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=pg_tmp_path,
    )
    try:
        ready = _wait_ready(port, process)
        assert ready.json()["status"] == "ready"
        deadline = time.monotonic() + 30
        workers: list[psutil.Process] = []
        evaluators: list[psutil.Process] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [
                child
                for child in psutil.Process(process.pid).children()
                if "spawn_main" in " ".join(child.cmdline())  # not the resource tracker
            ]
            time.sleep(0.2)
        assert len(workers) == 2
        evaluators = [
            child
            for child in psutil.Process(process.pid).children()
            if "backend.runtime.evaluator" in " ".join(child.cmdline())
        ]
        assert len(evaluators) == 1  # one evaluator beside the workers, not one in each
        # the workers show the evaluator process's series (counted there, not here)
        metrics = parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        assert metrics[("cascade_interactions_evaluated_total", frozenset())] == 0.0
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert "with 2 workers" in output and "stopped" in output
    assert not any(worker.is_running() for worker in workers + evaluators)
