"""Indexer benchmark: >= 50,000 RewardAdded events on anvil, fully indexed, events/s.

Starts its own embedded PostgreSQL (temp dir, migrated to head) and anvil,
deploys the core contracts, a funded bank and a token, then generates the
events with signed pushes of 500 rewards each (sent back to back, one block
per push). It then indexes the chain from scratch with the same code as
`cascade index --once` (Indexer.catch_up) and checks the rows against what was
pushed. The baseline is the raw eth_getLogs fetch of the same range and filter
alone, measured in the same run: the ratio says what decoding and writing cost
on top of reading the logs.

Usage: .venv/bin/python bench/index.py [--json] [--events 50000] [--wallets 20000]
With --json the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402
from eth_utils import to_checksum_address  # noqa: E402
from sqlalchemy import text  # noqa: E402

from backend.chain import connect, contract, deploy_bank, deploy_core, deploy_test_token, send  # noqa: E402
from backend.core import migrate  # noqa: E402
from backend.core.config import ANVIL_DEV_KEYS, load_settings  # noqa: E402
from backend.core.context import AppContext  # noqa: E402
from backend.core.db import create_engine  # noqa: E402
from backend.runtime.anvil import EmbeddedAnvil  # noqa: E402
from backend.runtime.postgres import EmbeddedPostgres  # noqa: E402
from backend.settlement import eip712  # noqa: E402

KEY = ANVIL_DEV_KEYS[0]
BATCH = eip712.MAX_BATCH  # 500 rewards per push transaction
FUNDS = 10**33


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(w3: Any, events: int, wallet_count: int) -> dict[str, Any]:
    """Deploy, fund, and push `events` rewards; returns addresses and what was pushed."""
    deployer = Account.from_key(KEY)
    core = deploy_core(w3, KEY)
    token = deploy_test_token(w3, KEY, "Bench Euro", "EURe")
    erc20 = contract(w3, "MockERC20", token)
    send(w3, KEY, erc20.functions.mint(deployer.address, FUNDS))
    bank = deploy_bank(w3, KEY, core["bank_factory"], secrets.token_bytes(32), deployer.address)
    send(w3, KEY, erc20.functions.approve(bank, FUNDS))
    product_bank = contract(w3, "ProductBank", bank)
    send(w3, KEY, product_bank.functions.deposit(token, FUNDS))
    campaign = secrets.token_bytes(32)
    send(w3, KEY, product_bank.functions.allocateCampaignBudget(campaign, token, 0, 2**256 - 1))

    wallets = [to_checksum_address(secrets.token_bytes(20)) for _ in range(wallet_count)]
    batches = [
        [(wallets[(start + i) % wallet_count], 10**15 + start + i) for i in range(BATCH)]
        for start in range(0, events, BATCH)
    ]
    batches[-1] = batches[-1][: events - BATCH * (len(batches) - 1)]
    deadline = int(time.time()) + 86_400
    chain_id = w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(deployer.address, "pending")
    gas: int | None = None
    hashes = []
    started = time.perf_counter()
    for i, rewards in enumerate(batches):
        typed = eip712.push_rewards_typed_data(
            chain_id=chain_id,
            bank_address=bank,
            campaign_id=campaign,
            token=token,
            rewards=rewards,
            nonce=eip712.new_nonce(),
            deadline=deadline,
        )
        call = product_bank.functions.pushRewards(
            *eip712.push_call_args(typed, eip712.sign_push(KEY, typed))
        )
        if gas is None:
            gas = int(call.estimate_gas({"from": deployer.address}) * 1.3)
        tx = call.build_transaction(
            {
                "from": deployer.address,
                "nonce": nonce + i,
                "gas": gas,
                "chainId": chain_id,
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 0,
            }
        )
        hashes.append(w3.eth.send_raw_transaction(deployer.sign_transaction(tx).raw_transaction))
    receipts = [w3.eth.wait_for_transaction_receipt(h, poll_latency=0.05) for h in hashes]
    failed = [r for r in receipts if r["status"] != 1]
    if failed:
        raise RuntimeError(f"{len(failed)} push transactions reverted")
    return {
        "push_pull": core["push_pull"],
        "bank_factory": core["bank_factory"],
        "pushes": len(batches),
        "blocks": len({r["blockNumber"] for r in receipts}),
        "total": sum(amount for batch in batches for _, amount in batch),
        "generate_s": time.perf_counter() - started,
    }


async def measure(database_url: str, rpc_url: str, chain: dict[str, Any]) -> dict[str, Any]:
    from indexer.decode import Decoder
    from indexer.rpc import Rpc
    from indexer.runner import open_indexer

    settings = load_settings(
        database_url=database_url,
        rpc_url=rpc_url,
        chain_id=31337,
        confirmations=0,
        push_pull_address=chain["push_pull"],
        bank_factory_address=chain["bank_factory"],
        log_level="WARNING",
    )
    ctx = AppContext(settings, database_url, rpc_url)
    try:
        # baseline: the raw eth_getLogs of the whole range, same addresses and topics
        rpc = Rpc(rpc_url, timeout_s=300)
        head = await rpc.block_number()
        addresses = [chain["push_pull"], chain["bank_factory"], chain["bank"]]
        fetches = []
        for _ in range(2):
            started = time.perf_counter()
            raw = await rpc.get_logs(0, head, addresses, Decoder().topics())
            fetches.append(time.perf_counter() - started)
        await rpc.close()

        started = time.perf_counter()
        async with open_indexer(ctx) as indexer:
            stats = await indexer.catch_up()
        index_s = time.perf_counter() - started

        async with ctx.engine.connect() as conn:
            added = (
                await conn.execute(
                    text("SELECT count(*) FROM chain_events WHERE event = 'RewardAdded'")
                )
            ).scalar()
            total = (
                await conn.execute(text("SELECT sum(total_added) FROM wallet_token_balances"))
            ).scalar()
        return {
            "index_s": index_s,
            "stats": stats,
            "fetch_s": min(fetches),
            "raw_logs": len(raw),
            "rows_reward_added": int(added or 0),
            "balances_total": int(total or 0),
        }
    finally:
        await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--events", type=int, default=50_000, help="RewardAdded events to index")
    parser.add_argument("--wallets", type=int, default=20_000, help="distinct receiving wallets")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cascade-bench-index-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="bench")
        anvil = EmbeddedAnvil()
        try:
            database_url = postgres.start()
            engine = create_engine(database_url, pool_size=1)
            asyncio.run(_migrate(engine))
            rpc_url = anvil.start()
            w3 = connect(rpc_url, timeout_s=300)
            log(f"==> generating {args.events:,} RewardAdded events ({BATCH} per push)")
            chain = generate(w3, args.events, args.wallets)
            factory = contract(w3, "ProductBankFactory", chain["bank_factory"])
            chain["bank"] = factory.events.BankDeployed().get_logs(from_block=0)[0]["args"]["bank"]
            log(
                f"    {chain['pushes']} pushes in {chain['blocks']} blocks, "
                f"{chain['generate_s']:.1f}s"
            )
            log("==> indexing from scratch")
            result = asyncio.run(measure(database_url, rpc_url, chain))
        finally:
            anvil.stop()
            postgres.stop()

    stats = result["stats"]
    if result["rows_reward_added"] != args.events or result["balances_total"] != chain["total"]:
        raise SystemExit(f"indexed rows do not match the chain: {result}")
    events_per_s = stats.events / result["index_s"]
    report = {
        "events_indexed": stats.events,
        "reward_added_events": result["rows_reward_added"],
        "blocks": stats.blocks,
        "ranges": stats.ranges,
        "index_s": round(result["index_s"], 3),
        "events_per_s": round(events_per_s),
        "fetch_s": round(stats.fetch_s, 3),
        "decode_s": round(stats.decode_s, 3),
        "apply_s": round(stats.apply_s, 3),
        "baseline_get_logs_s": round(result["fetch_s"], 3),
        "baseline_events_per_s": round(result["raw_logs"] / result["fetch_s"]),
        "ratio_index_to_get_logs": round(result["index_s"] / result["fetch_s"], 2),
        "target_events_per_s": 5_000,
    }
    print(
        f"indexed {stats.events:,} events ({result['rows_reward_added']:,} RewardAdded) "
        f"over {stats.blocks} blocks in {result['index_s']:.2f}s: {events_per_s:,.0f} events/s"
    )
    print(
        f"  fetch {stats.fetch_s:.2f}s, decode {stats.decode_s:.2f}s, "
        f"apply {stats.apply_s:.2f}s ({stats.ranges} ranges)"
    )
    print(
        f"  baseline: raw eth_getLogs alone {result['fetch_s']:.2f}s "
        f"({report['baseline_events_per_s']:,} logs/s); "
        f"full indexing takes {report['ratio_index_to_get_logs']}x that"
    )
    if args.json:
        print(json.dumps(report))


async def _migrate(engine: Any) -> None:
    await migrate.upgrade(engine)
    await engine.dispose()


if __name__ == "__main__":
    main()
