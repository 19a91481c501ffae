"""Settlement benchmark: N pending rewards across C campaigns, settled and confirmed on anvil.

Starts its own embedded PostgreSQL (temp dir) and anvil, deploys the contracts,
funds one bank, inserts pending rewards and runs push cycles until every reward
is pushed. Prints rewards/s, transactions, total gas and gas per reward, and a
baseline: gas per reward of a single-reward batch measured in the same run.

    .venv/bin/python bench/settle.py [--json] [--rewards 10000] [--campaigns 20]
    .venv/bin/python bench/settle.py --traffic [--banks 200] [--hours 6] [--json]

`--traffic` lets rewards arrive at the design's rate over simulated hours across many
banks (bench/traffic.py) and reports what settlement costs per reward at each cadence,
and a user's first reward end to end: the push share plus the measured claim of a
wallet's only reward, from its own key (`first_reward_gas`) and relayed in the
relayer's batches at the design's claim rate (`first_reward_gas_relayed`), hourly
among the JSON's top-level keys.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account
from eth_utils import keccak
from sqlalchemy import func, insert, select

from backend.campaigns.models import Campaign
from backend.chain import connect, contract, deploy_bank, deploy_core, deploy_test_token, send
from backend.core import migrate
from backend.core.config import ANVIL_DEV_KEYS, load_settings
from backend.core.context import AppContext
from backend.core.db import create_engine
from backend.interactions.models import Interaction
from backend.products.models import Product, ProductBank
from backend.rewards.models import Reward
from backend.runtime.anvil import EmbeddedAnvil
from backend.runtime.postgres import EmbeddedPostgres
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.options import load_options
from bench import traffic

KEY = ANVIL_DEV_KEYS[0]


def setup_chain(rpc_url: str, product_id: str, total: int) -> tuple[dict[str, str], str, str]:
    w3 = connect(rpc_url)
    signer = Account.from_key(KEY).address
    core = dict(deploy_core(w3, KEY))
    bank = deploy_bank(w3, KEY, core["bank_factory"], bytes.fromhex(product_id[2:]), signer)
    token = deploy_test_token(w3, KEY, "Bench", "BNC")
    erc20 = contract(w3, "MockERC20", token)
    send(w3, KEY, erc20.functions.mint(signer, total))
    send(w3, KEY, erc20.functions.approve(bank, total))
    send(w3, KEY, contract(w3, "ProductBank", bank).functions.deposit(token, total))
    return core, bank, token


def allocate(rpc_url: str, bank: str, token: str, campaigns: list[str]) -> None:
    w3 = connect(rpc_url)
    bank_contract = contract(w3, "ProductBank", bank)
    for chain_campaign_id in campaigns:
        cid = bytes.fromhex(chain_campaign_id[2:])
        send(w3, KEY, bank_contract.functions.allocateCampaignBudget(cid, token, 0, 2**256 - 1))


async def add_product(ctx: AppContext, product_id: str) -> None:
    async with ctx.sessions() as session:
        session.add(
            Product(
                id=product_id,
                name="Bench",
                primary_domain="bench.example",
                domains=["bench.example"],
                owner_wallet=Account.create().address,
            )
        )
        await session.commit()


async def run_traffic(args: argparse.Namespace) -> dict[str, Any]:
    """The traffic-shaped mode: hourly, then five-minute settlement, on one chain."""
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        anvil = EmbeddedAnvil()
        rpc_url = anvil.start()
        try:
            engine = create_engine(database_url, pool_size=1)
            await migrate.upgrade(engine)
            await engine.dispose()
            settings = load_settings(
                database_url=database_url,
                rpc_url=rpc_url,
                signer_key=KEY,
                secret_key="bench-secret-0123456789abcdef0123",
                push_cooldown_s=0,
                confirmations=0,
                batch_size=args.batch_size,
                data_dir=Path(tmp),
            )
            ctx = AppContext(settings, database_url, rpc_url)
            w3 = connect(rpc_url)
            core = dict(deploy_core(w3, KEY))
            token = deploy_test_token(w3, KEY, "Bench", "BNC")
            ctx.settings.push_pull_address = core["push_pull"]
            # as deployed: batches ready together leave in one pushMany (bundles);
            # SETTLEMENT_BUNDLE_GAS=0 sends each alone, as before issue 19's bundles
            ctx.settings.bank_factory_address = core["bank_factory"]
            print(f"seeding {args.banks} banks", flush=True)
            campaigns = await traffic.seed_banks(ctx, rpc_url, KEY, core, token, args)
            counters = traffic.Counters(ctx)
            rng = random.Random(19)
            idle = await traffic.empty_cycle(ctx, counters)
            roles = RoleCalls(ctx)
            busy = await work_at_every_bank(ctx, counters, roles, campaigns, rng)
            hourly = await traffic.run_cadence(ctx, counters, campaigns, 3600, args.hours, rng)
            five = await traffic.run_cadence(ctx, counters, campaigns, 300, args.hours, rng)
            # settlement cadence (issue 19 item 4): the campaigns settle daily, the job
            # runs hourly; long enough for every campaign's queue to go at least once
            daily = await traffic.run_cadence(
                ctx, counters, campaigns, 3600, args.cadence_hours, rng, max_wait_s=86_400
            )
            # last, so the runs above are the same as before: the design's 5,000 banks idle
            idle_design = await traffic.idle_at_design_scale(ctx, counters, args.banks)
            await ctx.close()
        finally:
            anvil.stop()
            postgres.stop()
    result: dict[str, Any] = {
        "banks": args.banks,
        "campaigns_per_bank": args.campaigns_per_bank,
        "hours": args.hours,
        "empty_cycle": idle,
        "empty_cycle_design_banks": idle_design,
        "work_at_every_bank": busy,
        "hourly": hourly.figures(args.banks),
        "five_minutes": five.figures(args.banks),
        "daily_cadence": daily.figures(args.banks),
    }
    # the machine-readable keys: hourly settlement is the headline
    result["gas_per_reward"] = result["hourly"]["gas_per_reward"]
    # push share + a measured claim of a wallet's only reward, hourly
    result["first_reward_gas"] = result["hourly"]["first_reward_gas"]
    # the same with the claim relayed (a shopper's path), at the design's claim rate
    result["first_reward_gas_relayed"] = result["hourly"]["first_reward_gas_relayed"]
    result["transactions"] = hourly.transactions
    result["rewards"] = hourly.rewards
    return result


HAS_ROLE = "0x" + keccak(text="hasRole(bytes32,address)")[:4].hex()
DISTRIBUTOR_EPOCH = "0x" + keccak(text="distributorEpoch()")[:4].hex()
ROLE_GRANTED = "0x" + keccak(text="RoleGranted(bytes32,address,address)").hex()


class RoleCalls:
    """RPC requests that ask about roles, by kind: hasRole, distributorEpoch, role logs."""

    def __init__(self, ctx: AppContext):
        self.kinds: dict[str, int] = {"hasRole": 0, "distributorEpoch": 0, "role_logs": 0}
        provider = ctx.w3.provider
        inner = provider.make_request
        selectors = {HAS_ROLE: "hasRole", DISTRIBUTOR_EPOCH: "distributorEpoch"}

        async def counted(method: Any, params: Any) -> Any:
            if method == "eth_call":
                kind = selectors.get(str(params[0].get("data", ""))[:10])
                if kind:
                    self.kinds[kind] += 1
            elif method == "eth_getLogs" and ROLE_GRANTED in str(params[0].get("topics")):
                self.kinds["role_logs"] += 1
            return await inner(method, params)

        provider.make_request = counted
        provider._request_func_cache = (None, None)  # web3 keeps the chain it built


async def work_at_every_bank(
    ctx: AppContext,
    counters: traffic.Counters,
    roles: RoleCalls,
    campaigns: list[Campaign],
    rng: random.Random,
) -> dict[str, Any]:
    """Two cycles with one reward at every bank: what the role checks cost, first and after."""
    first_of_bank = list({campaign.product_id: campaign for campaign in campaigns}.values())
    pool = [Account.create().address for _ in range(len(first_of_bank))]
    options = load_options(receipt_wait_s=60)
    figures: dict[str, Any] = {"banks": len(first_of_bank)}
    for name in ("first_cycle", "next_cycle"):
        for campaign in first_of_bank:
            await traffic.arrive(ctx, [campaign], 1, pool, rng)
        rpc, sql, role = counters.rpc, counters.sql, dict(roles.kinds)
        started = time.perf_counter()
        report = await push_once(ctx, options=options)
        if report.errors or report.rewards_pushed != len(first_of_bank):
            raise RuntimeError(f"push cycle failed: {report.errors}")
        figures[name] = {
            "seconds": round(time.perf_counter() - started, 3),
            "rpc_calls": counters.rpc - rpc,
            "role_rpc_calls": {kind: roles.kinds[kind] - role[kind] for kind in role},
            "sql_statements": counters.sql - sql,
        }
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        anvil = EmbeddedAnvil()
        rpc_url = anvil.start()
        try:
            engine = create_engine(database_url, pool_size=1)
            await migrate.upgrade(engine)
            await engine.dispose()
            settings = load_settings(
                database_url=database_url,
                rpc_url=rpc_url,
                signer_key=KEY,
                secret_key="bench-secret-0123456789abcdef0123",
                push_cooldown_s=0,
                confirmations=args.confirmations,
                batch_size=args.batch_size,
                data_dir=Path(tmp),
            )
            ctx = AppContext(settings, database_url, rpc_url)
            product_id = "0x" + keccak(text="bench.example").hex()
            core, bank, token = setup_chain(rpc_url, product_id, 10**40)
            ctx.settings.push_pull_address = core["push_pull"]
            await add_product(ctx, product_id)
            async with ctx.sessions() as session:
                session.add(ProductBank(product_id=product_id, chain_id=31337, address=bank))
                await session.commit()
            # baseline: a batch of one reward, measured on the same chain
            single = await seed_rewards(ctx, product_id, token, 1, 1, 1)
            allocate(rpc_url, bank, token, [c.chain_campaign_id for c in single])
            options = load_options(receipt_wait_s=60)
            baseline = await push_once(ctx, options=options)
            baseline_gas = baseline.gas_used

            campaigns = await seed_rewards(
                ctx, product_id, token, args.rewards, args.campaigns, args.wallets
            )
            allocate(rpc_url, bank, token, [c.chain_campaign_id for c in campaigns])
            started = time.perf_counter()
            transactions = 0
            cycles = 0
            while True:
                report = await push_once(ctx, options=options)
                cycles += 1
                transactions += len(report.tx_hashes)
                async with ctx.sessions() as session:
                    left = await session.scalar(
                        select(func.count()).select_from(Reward).where(Reward.status != "pushed")
                    )
                if not left:
                    break
                if args.confirmations:
                    connect(rpc_url).provider.make_request("anvil_mine", [args.confirmations])
                if cycles > 1000:
                    raise RuntimeError("settlement did not converge")
            elapsed = time.perf_counter() - started
            async with ctx.sessions() as session:
                gas, batches, entries = (
                    await session.execute(
                        select(
                            func.sum(SettlementBatch.gas_used),
                            func.count(),
                            func.sum(func.jsonb_array_length(SettlementBatch.payload)),
                        ).where(
                            SettlementBatch.status == "pushed",
                            SettlementBatch.campaign_id.in_([c.id for c in campaigns]),
                        )
                    )
                ).one()
            await ctx.close()
        finally:
            anvil.stop()
            postgres.stop()
    gas = int(gas)
    return {
        "rewards": args.rewards,
        "campaigns": args.campaigns,
        "wallets": args.wallets,
        "batch_size": args.batch_size,
        "confirmations": args.confirmations,
        "cycles": cycles,
        "batches": int(batches),
        "transactions": transactions,
        "seconds": round(elapsed, 2),
        "rewards_per_s": round(args.rewards / elapsed, 1),
        "total_gas": gas,
        "gas_per_reward": round(gas / args.rewards),
        "payload_entries": int(entries),  # (wallet, sum) pairs actually credited
        "gas_per_entry": round(gas / int(entries)),
        "baseline_gas_per_reward": baseline_gas,
        "ratio_vs_single_reward_batch": round(gas / args.rewards / baseline_gas, 3),
    }


async def seed_rewards(
    ctx: AppContext, product_id: str, token: str, rewards: int, campaign_count: int, wallets: int
) -> list[Campaign]:
    """Active campaigns and pending rewards spread over them and over a wallet pool."""
    rng = random.Random(11)
    pool = [Account.create().address for _ in range(wallets)]
    async with ctx.sessions() as session:
        campaigns = []
        for index in range(campaign_count):
            campaign_id = uuid.uuid4()
            campaigns.append(
                Campaign(
                    id=campaign_id,
                    product_id=product_id,
                    chain_campaign_id="0x" + keccak(campaign_id.bytes).hex(),
                    name=f"bench {index}",
                    trigger="purchase.completed",
                    token=token,
                    reward_type="fixed",
                    reward_config={"amount": "1"},
                    user_bps=10_000,
                    decay_bps=0,
                    max_depth=0,
                    status="active",
                )
            )
        session.add_all(campaigns)
        await session.flush()
        interactions = [
            {
                "product_id": product_id,
                "wallet": rng.choice(pool),
                "type": "purchase.completed",
                "source": "cli",
            }
            for _ in range(rewards)
        ]
        ids = (
            await session.scalars(insert(Interaction).returning(Interaction.id), interactions)
        ).all()
        rows = [
            {
                "product_id": product_id,
                "campaign_id": campaigns[i % campaign_count].id,
                "interaction_id": interaction_id,
                "wallet": interactions[i]["wallet"],
                "level": 0,
                "token": token,
                "amount": rng.randint(1, 10**18),
            }
            for i, interaction_id in enumerate(ids)
        ]
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Reward), rows[start : start + 2000])
        await session.commit()
    return campaigns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rewards", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=20)
    parser.add_argument("--wallets", type=int, default=5_000, help="distinct recipients")
    parser.add_argument(
        "--batch-size", type=int, default=100, help="wallets per batch (BATCH_SIZE)"
    )
    parser.add_argument("--confirmations", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    traffic.add_arguments(parser)
    args = parser.parse_args()
    if args.traffic:
        result = asyncio.run(run_traffic(args))
        for line in traffic.report_lines(result):
            print(line)
        busy = result["work_at_every_bank"]
        for name in ("first_cycle", "next_cycle"):
            c = busy[name]
            print(
                f"work at all {busy['banks']} banks, {name}: role RPC calls "
                f"{c['role_rpc_calls']} of {c['rpc_calls']}, {c['sql_statements']} SQL, "
                f"{c['seconds']} s"
            )
        if args.json:
            print(json.dumps(result))
        return
    result = asyncio.run(run(args))
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
