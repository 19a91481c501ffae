"""Find, install (Debian package, never a downloaded build) and launch headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
INSTALL_COMMAND = "apt-get update -qq && apt-get install -y -qq chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
)


class ChromiumUnavailable(Exception):
    """No Chromium here, and the Debian package could not be installed."""


def find_chromium() -> str | None:
    override = os.environ.get("CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for path in CHROMIUM_PATHS:
        if Path(path).exists():
            return path
    return shutil.which("chromium")


def ensure_chromium() -> str:
    """The Chromium binary, installing the Debian package when it is missing and we may."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ChromiumUnavailable(
            f"chromium is not installed and this user cannot run `{INSTALL_COMMAND}`"
        )
    result = subprocess.run(["bash", "-c", INSTALL_COMMAND], capture_output=True, text=True)
    found = find_chromium()
    if not found:
        tail = (result.stderr or result.stdout)[-500:]
        raise ChromiumUnavailable(f"`{INSTALL_COMMAND}` did not install chromium: {tail}")
    return found


@dataclass
class Chromium:
    """One headless browser process; connect to `websocket_url` with CdpConnection."""

    binary: str
    process: subprocess.Popen[bytes] | None = None
    websocket_url: str = ""
    _profile: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def start(self, timeout: float = 30) -> Chromium:
        # a helper process may still write into the profile as it exits: cleanup is best-effort
        self._profile = tempfile.TemporaryDirectory(
            prefix="cascade-chromium-", ignore_cleanup_errors=True
        )
        profile = Path(self._profile.name)
        log_path = profile / "chromium.log"  # a file, not a pipe: a chatty browser never blocks
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = log_path.read_text(errors="replace")
                raise ChromiumUnavailable(f"chromium exited at start: {stderr[-800:]}")
            if port_file.exists():
                lines = port_file.read_text().split("\n")
                if len(lines) >= 2 and lines[0].strip():
                    self.websocket_url = f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
                    return self
            time.sleep(0.05)
        self.stop()
        raise ChromiumUnavailable(f"chromium did not open its debugging port within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None
