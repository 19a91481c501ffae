"""Run `cascade push --once` as a real process against the test database and anvil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.settlement.conftest import KEY, Env

REPO = Path(__file__).resolve().parents[2]
COMMAND = [
    sys.executable,
    "-c",
    "from backend.cli.main import cli; cli()",
    "push",
    "--once",
    "--json",
]


def push_env(env: Env, batch_size: int, **extra: str) -> dict[str, str]:
    values = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CASCADE_CRASH")},
        "DATABASE_URL": env.ctx.database_url,
        "RPC_URL": env.rpc_url,
        "CHAIN_ID": "31337",
        "SIGNER_KEY": KEY,
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "PUSH_PULL_ADDRESS": env.core["push_pull"],
        "BANK_FACTORY_ADDRESS": env.core["bank_factory"],
        "PUSH_COOLDOWN_S": "0",
        "CONFIRMATIONS": "0",
        "BATCH_SIZE": str(batch_size),
        "SETTLEMENT_RECEIPT_WAIT_S": "10",
        "LOG_LEVEL": "WARNING",
    }
    values.update(extra)
    return values


def start_push(env: Env, batch_size: int, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        COMMAND,
        cwd=REPO,
        env=push_env(env, batch_size, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_push(env: Env, batch_size: int, **extra: str) -> tuple[int, str]:
    process = start_push(env, batch_size, **extra)
    out, err = process.communicate(timeout=120)
    return process.returncode, (out + err).decode(errors="replace")
