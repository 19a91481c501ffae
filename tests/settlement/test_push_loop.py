"""`cascade push` (loop mode) outlives a database outage instead of exiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CASCADE = str(Path(sys.executable).parent / "cascade")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # how a shell's background job starts


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_push_loop__database_down__keeps_retrying_until_stopped(rpc_url, tmp_path, stop):
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere",  # nothing listens
        "RPC_URL": rpc_url,
        "SIGNER_KEY": "0x" + "22" * 32,
        "SECRET_KEY": "x" * 32,
        "PUSH_INTERVAL_S": "1",
        "LOG_FORMAT": "json",
        "DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [CASCADE, "push"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        # two failed cycles, however slowly a loaded machine starts the CLI
        deadline = time.monotonic() + 90
        while sum("push cycle failed, retrying" in line for line in lines) < 2:
            assert process.poll() is None, "".join(lines)  # still running
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        assert process.poll() is None, "".join(lines)
    finally:
        process.send_signal(stop)
        process.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    assert output.count("push cycle failed, retrying") >= 2, output
