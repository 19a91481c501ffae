"""`cascade push` (loop mode) outlives a database outage instead of exiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
    try:
        time.sleep(6)
        assert process.poll() is None, process.communicate()[0]  # still running
    finally:
        process.send_signal(stop)
        output, _ = process.communicate(timeout=30)
    assert output.count("push cycle failed, retrying") >= 2, output
