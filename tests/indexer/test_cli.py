"""`cascade index` as a real process: SIGKILL mid-run, restart, no gap and no duplicate."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.factories import wallet
from tests.indexer.conftest import assert_matches_chain, expected_events, indexed_events, table

CASCADE = str(Path(sys.executable).parent / "cascade")


def _env(chain, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INDEXER_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url,
        RPC_URL=chain.rpc_url,
        PUSH_PULL_ADDRESS=chain.push_pull,
        BANK_FACTORY_ADDRESS=chain.bank_factory,
        SECRET_KEY="test-secret-key-0123456789abcdef",
        LOG_FORMAT="json",
        **extra,
    )
    return env


async def _cascade(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CASCADE,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _cursor(ctx) -> int | None:
    rows = await table(ctx, "SELECT block_number FROM indexer_checkpoints")
    return int(rows[0][0]) if rows else None


async def test_sigkill_mid_run_then_restart__resumes_without_gaps_or_duplicates(
    chain, clean_db, database_url, tmp_path
):
    wallets = [wallet() for _ in range(8)]
    # 80 blocks with events, indexed one block per range until the kill
    chain.push_many([[(wallets[i % 8], i + 1), (wallets[(i + 3) % 8], 2)] for i in range(80)])
    head = chain.head()
    env = _env(chain, database_url, INDEXER_BLOCK_RANGE="1", INDEXER_MAX_BLOCK_RANGE="1")
    log = tmp_path / "index.stderr"

    with log.open("wb") as stderr:  # kept for the failure message below
        process = await asyncio.create_subprocess_exec(
            CASCADE,
            "index",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        started: int | None = None
        async with asyncio.timeout(60):
            while True:
                cursor = await _cursor(clean_db)
                started = cursor if started is None else started
                if started is not None and cursor is not None and cursor >= started + 20:
                    break
                assert process.returncode is None, (
                    "cascade index exited early: " + log.read_text(errors="replace")[-2000:]
                )
                await asyncio.sleep(0.01)
        process.kill()  # SIGKILL: no cleanup, no chance to finish the range
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()

    killed_at = await _cursor(clean_db)
    assert killed_at is not None and killed_at < head, "the indexer finished before the kill"
    # what was committed is exactly the chain up to the checkpoint: no partial range
    assert await indexed_events(clean_db) == expected_events(chain, up_to=killed_at)

    code, _, err = await _cascade(_env(chain, database_url), tmp_path, "index", "--once")
    assert code == 0, err
    assert f"at block {head}" in err
    await assert_matches_chain(clean_db, chain)


async def test_index_once_from__reindexes_without_duplicates(
    chain, clean_db, database_url, tmp_path
):
    receipt = chain.push([(wallet(), 9), (wallet(), 10)])
    env = _env(chain, database_url)
    code, _, err = await _cascade(env, tmp_path, "index", "--once")
    assert code == 0, err

    block = str(receipt["blockNumber"])
    code, out, err = await _cascade(env, tmp_path, "index", "--once", "--json", "--from", block)
    assert code == 0, err
    assert f"re-indexing from block {block}" in err
    assert '"inserted": 3' in out  # RewardsPushed + 2 RewardAdded, once each
    await assert_matches_chain(clean_db, chain)


async def test_index_without_rpc_url__explains_what_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"RPC_URL", "DATABASE_URL"}}
    code, _, err = await _cascade(env, tmp_path, "index", "--once")
    assert code == 2
    assert "RPC_URL is required" in err
