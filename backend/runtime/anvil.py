"""anvil (npm @foundry-rs/anvil) on a free loopback port, tied to this process's life."""

from __future__ import annotations

import ctypes
import json
import logging
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from backend.core.paths import anvil_binary

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # If we are killed (even SIGKILL), the kernel sends anvil SIGTERM: no orphans.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 5.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


# Passkey accounts need the P-256 precompile at 0x100 (EIP-7951), which osaka has.
DEFAULT_HARDFORK = "osaka"


class EmbeddedAnvil:
    """A local chain. `state_file` keeps it across restarts (demo); tests start fresh.

    `hardfork` defaults to osaka (P-256 precompile); tests pass an older one to
    play a chain without it.
    """

    def __init__(
        self,
        *,
        chain_id: int = 31337,
        port: int | None = None,
        state_file: Path | None = None,
        block_time: float | None = None,
        log_file: Path | None = None,
        hardfork: str = DEFAULT_HARDFORK,
    ):
        self.chain_id = chain_id
        self.port = port
        self.state_file = state_file
        self.block_time = block_time
        self.log_file = log_file
        self.hardfork = hardfork
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self.port = self.port or free_port()
        args = [
            anvil_binary(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--gas-limit",
            "30000000",
            "--hardfork",
            self.hardfork,
        ]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            args += ["--state", str(self.state_file), "--state-interval", "5"]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        log.info("starting anvil", extra={"port": self.port, "chain_id": self.chain_id})
        self.process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anvil exited with code {self.process.returncode}")
            try:
                rpc_call(self.url, "eth_chainId", timeout=1.0)
                return self.url
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"anvil did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.process is None:
            return
        log.info("stopping anvil", extra={"port": self.port})
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM lets anvil dump --state
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
