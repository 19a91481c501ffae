"""Compiled contracts (ABI, init code, blueprint) for web3.py, without importing ape.

The backend compiles contracts/ with the pip-installed `vyper` package (the same
compiler ape-vyper uses) and caches the output under .build/cascade/, keyed by a
hash of every Vyper source and the compiler version: a changed source recompiles,
an unchanged one loads in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from backend.core.paths import CONTRACTS_DIR, REPO_ROOT

CACHE_DIR = REPO_ROOT / ".build" / "cascade"
# Deployable contracts, by name; test tokens live in contracts/test/.
_SEARCH_DIRS = (CONTRACTS_DIR, CONTRACTS_DIR / "test")


@dataclass(frozen=True)
class ContractArtifact:
    """What web3 needs to deploy and call a contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes  # init code (constructor + runtime)
    blueprint_bytecode: bytes  # deploys an ERC-5202 blueprint of `bytecode`

    @property
    def initcode_hash(self) -> bytes:
        """keccak256 of the init code: what CREATE2 addresses of this contract derive from."""
        from eth_utils import keccak

        return keccak(self.bytecode)


def source_path(name: str) -> Path:
    """contracts/<name>.vy or contracts/test/<name>.vy."""
    for folder in _SEARCH_DIRS:
        path = folder / f"{name}.vy"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no contract named {name!r} under {CONTRACTS_DIR}")


def load_contract(name: str) -> tuple[list[dict[str, Any]], bytes]:
    """(abi, init code) of a contract, compiled on first use and cached."""
    artifact = load_artifact(name)
    return artifact.abi, artifact.bytecode


@cache
def load_artifact(name: str) -> ContractArtifact:
    """The full artifact of a contract, compiled on first use and cached on disk."""
    path = source_path(name)
    key = _sources_key()
    cached = CACHE_DIR / f"{name}-{key}.json"
    if cached.is_file():
        data = json.loads(cached.read_text())
    else:
        data = _compile(path)
        _write_atomically(cached, json.dumps(data))
    return ContractArtifact(
        name=name,
        abi=data["abi"],
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        blueprint_bytecode=bytes.fromhex(data["blueprint_bytecode"].removeprefix("0x")),
    )


def _sources_key() -> str:
    # Imports make every source a dependency of the others: hash them all.
    import vyper

    digest = hashlib.sha256(f"vyper {vyper.__version__}".encode())
    for path in sorted(_all_sources()):
        digest.update(str(path.relative_to(CONTRACTS_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _all_sources() -> list[Path]:
    return [
        path
        for pattern in ("*.vy", "*.vyi")
        for path in CONTRACTS_DIR.rglob(pattern)
        if "node_modules" not in path.parts
    ]


def _compile(path: Path) -> dict[str, Any]:
    from vyper.cli.vyper_compile import compile_files

    formats = ["abi", "bytecode", "blueprint_bytecode"]
    output = compile_files([str(path)], formats, paths=[str(CONTRACTS_DIR)])
    (result,) = output.values()
    return {fmt: result[fmt] for fmt in formats}


def _write_atomically(path: Path, text: str) -> None:
    # Concurrent test runs may compile at once: never expose a half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
