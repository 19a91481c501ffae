"""Where the repository's files are (migrations, contract artifacts, the embedded anvil).

In core because core (migrations) and chain (artifacts) need them and core imports no domain."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO_ROOT / "migrations"
CONTRACTS_DIR = REPO_ROOT / "contracts"


def anvil_binary() -> str:
    """anvil from the npm package in contracts/, else ANVIL_BIN, else PATH."""
    explicit = os.environ.get("ANVIL_BIN")
    if explicit:
        return explicit
    # The npm package's bin is a node wrapper that spawns the platform binary; start the
    # binary itself so stopping (or dying with) our process reaches the real node.
    modules = CONTRACTS_DIR / "node_modules"
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    native = modules / "@foundry-rs" / f"anvil-{sys.platform}-{machine}" / "bin" / "anvil"
    if native.exists():
        return str(native)
    wrapper = modules / ".bin" / "anvil"
    if wrapper.exists():
        return str(wrapper)
    found = shutil.which("anvil")
    if found:
        return found
    raise FileNotFoundError(
        "anvil not found: run `make setup` (installs npm @foundry-rs/anvil into contracts/)"
    )
