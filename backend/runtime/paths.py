"""Where the repository's files are, for the embedded pieces and migrations."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO_ROOT / "migrations"
CONTRACTS_DIR = REPO_ROOT / "contracts"


def anvil_binary() -> str:
    """anvil from the npm package in contracts/, else ANVIL_BIN, else PATH."""
    explicit = os.environ.get("ANVIL_BIN")
    if explicit:
        return explicit
    local = CONTRACTS_DIR / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found:
        return found
    raise FileNotFoundError(
        "anvil not found: run `make setup` (installs npm @foundry-rs/anvil into contracts/)"
    )
