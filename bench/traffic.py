"""Traffic-shaped settlement: rewards arrive over simulated time across many banks.

The design's capacity is 100,000 rewards a day over 10,000 campaigns of 5,000
products: ~10 rewards per campaign per day, so a push rarely carries more than a
few rewards. This mode seeds B banks with C campaigns each, lets rewards arrive
at that rate for H simulated hours, runs one push cycle per settlement interval
(hourly, then every five minutes, each with a fresh wallet pool, on the same
chain), and counts what settlement costs per reward: gas, transactions, RPC
calls and SQL statements, and the time a cycle takes. Figures for 5,000 banks
are extrapolated per bank-hour, with the arithmetic printed. After each run, wallets
whose only reward was pushed claim it: one from its own key, others through the
relayer (its service and its batching job), 1 to 8 claims a transaction, priced at
the design's claim rate (Cadence.relayed_claim_gas).

Used by `bench/settle.py --traffic`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from eth_account import Account
from eth_utils import keccak
from sqlalchemy import event, func, insert, select, update

from backend.campaigns.models import Campaign
from backend.chain import connect, contract, deploy_bank, send
from backend.core.context import AppContext
from backend.interactions.models import Interaction
from backend.products.models import Product, ProductBank
from backend.relayer import service as relayer_service
from backend.relayer.batches import send_queued_claims
from backend.relayer.job import TRACK_INTERVAL_S, track_relays
from backend.relayer.models import RelayRequest
from backend.relayer.relay import RelayerEnv
from backend.rewards.models import Reward
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBankRole, SettlementBatch
from backend.settlement.options import load_options

DESIGN_REWARDS_PER_DAY = 100_000
DESIGN_CAMPAIGNS = 10_000
DESIGN_BANKS = 5_000
REWARDS_PER_CAMPAIGN_PER_DAY = DESIGN_REWARDS_PER_DAY / DESIGN_CAMPAIGNS
UNLIMITED = 2**256 - 1


@dataclass
class Cadence:
    """What one settlement interval cost over the simulated hours."""

    interval_s: int
    hours: float
    max_wait_s: int = 0  # the campaigns' settle_max_wait_s (0: every cycle)
    cycles: int = 0
    left_pending: int = 0  # rewards still queued when the simulation ends
    rewards: int = 0
    transactions: int = 0
    gas: int = 0
    batches: int = 0  # batches pushed: one per (bank, campaign, token) due in a cycle
    # batches beyond a bank's first in the cycle that pushed them: what one signed batch per
    # bank across its campaigns would save
    batches_beyond_first_per_bank: int = 0
    rpc_calls: int = 0
    rpc_by_method: dict[str, int] = field(default_factory=dict)
    sql_statements: int = 0
    cycle_seconds_total: float = 0.0
    cycle_seconds_max: float = 0.0
    # a wallet whose only reward of the run is pushed claims it: from its own key
    # (pullReward, ETH given to it first), and gasless through the relayer (its service
    # queues the claims, its job sends them in one pullRewardsForMany): the gas of the
    # relayer's transaction per number of such claims it carries, 1 to 8
    claim_first_reward: int = 0
    first_rewards: int = 0  # rewards that were their wallet's first of the run
    relayed_batches: dict[int, int] = field(default_factory=dict)

    def figures(self, banks: int) -> dict[str, Any]:
        per_reward = self.gas / self.rewards if self.rewards else 0.0
        bank_hours = banks * self.hours
        tx_per_bank_hour = self.transactions / bank_hours
        return {
            **asdict(self),
            "gas_per_reward": round(per_reward),
            "rpc_per_reward": round(self.rpc_calls / max(self.rewards, 1), 2),
            "sql_per_reward": round(self.sql_statements / max(self.rewards, 1), 2),
            "rewards_per_tx": round(self.rewards / max(self.transactions, 1), 2),
            "rewards_per_batch": round(self.rewards / max(self.batches, 1), 2),
            "gas_per_tx": round(self.gas / max(self.transactions, 1)),
            "cycle_seconds_mean": round(self.cycle_seconds_total / max(self.cycles, 1), 3),
            "cycle_seconds_max": round(self.cycle_seconds_max, 3),
            # at 5,000 banks: the same transactions per bank-hour, the same gas per reward;
            # a waiting cadence's run starts with queues filling (no pushes), so there the
            # design's rewards a day at the measured rewards per transaction
            "design_transactions_per_day": round(
                DESIGN_REWARDS_PER_DAY * self.transactions / max(self.rewards, 1)
                if self.max_wait_s
                else tx_per_bank_hour * DESIGN_BANKS * 24
            ),
            "design_gas_per_day": round(per_reward * DESIGN_REWARDS_PER_DAY),
            # a user's first reward end to end: its push share (the average per reward
            # at this cadence) plus the claim measured above
            "first_reward_gas": round(per_reward) + self.claim_first_reward,
            # a lone relayed claim (nobody else's claim in its batch)
            "first_reward_gas_gasless": round(per_reward) + self.relayed_batches.get(1, 0),
            # a relayed claim at the design's rate: the expected share of its batch
            "claim_first_reward_relayed": self.relayed_claim_gas(),
            "first_reward_gas_relayed": round(per_reward) + self.relayed_claim_gas(),
        }

    def relayed_claim_gas(self) -> int:
        """A first claim's expected gas through the relayer at the design's traffic.

        The design's first rewards (the share of this run's rewards that were a wallet's
        first) each claimed once, as a Poisson stream at FIRST_CLAIMS_PER_S; the relayer
        sends the claims queued in each TRACK_INTERVAL_S window together, so a claim
        shares its transaction with N ~ Poisson(rate x window) others and pays
        gas(1 + N) / (1 + N), taken from the batches measured above (a batch larger than
        the largest measured is priced at that one's per-claim gas: more claims cost
        less each, so this can only overstate).
        """
        if not self.relayed_batches:
            return 0
        mean = self.first_claims_per_s * TRACK_INTERVAL_S
        largest = max(self.relayed_batches)
        expected = 0.0
        seen = 0.0
        for others in range(largest):
            weight = math.exp(-mean) * mean**others / math.factorial(others)
            size = others + 1
            expected += weight * self.relayed_batches[size] / size
            seen += weight
        expected += (1 - seen) * self.relayed_batches[largest] / largest
        return round(expected)

    @property
    def first_claims_per_s(self) -> float:
        return DESIGN_REWARDS_PER_DAY * self.first_rewards / max(self.rewards, 1) / 86_400


class Counters:
    """RPC requests through the app's provider and SQL statements through its engine."""

    def __init__(self, ctx: AppContext):
        self.rpc = 0
        self.methods: Counter[str] = Counter()
        self.sql = 0
        provider = ctx.w3.provider
        # web3's AsyncHTTPProvider answers cached requests (eth_chainId, see AppContext.w3)
        # inside make_request; _make_request is the HTTP round trip, so count there
        original = provider._make_request

        async def counted(method: Any, request_data: Any) -> Any:
            self.rpc += 1
            self.methods[str(method)] += 1
            return await original(method, request_data)

        provider._make_request = counted
        event.listen(ctx.engine.sync_engine, "before_cursor_execute", self._statement)

    def _statement(self, *_: Any) -> None:
        self.sql += 1


async def seed_banks(
    ctx: AppContext, rpc_url: str, key: str, core: dict[str, str], token: str, args: Any
) -> list[Campaign]:
    """B products with a funded bank each and C unlimited campaigns per bank."""
    w3 = connect(rpc_url)
    signer = Account.from_key(key).address
    erc20 = contract(w3, "MockERC20", token)
    per_bank = 10**30
    send(w3, key, erc20.functions.mint(signer, per_bank * args.banks))
    campaigns: list[Campaign] = []
    started = time.perf_counter()
    for index in range(args.banks):
        product_id = "0x" + keccak(text=f"traffic-{index}.example").hex()
        bank = deploy_bank(w3, key, core["bank_factory"], bytes.fromhex(product_id[2:]), signer)
        send(w3, key, erc20.functions.approve(bank, per_bank))
        bank_contract = contract(w3, "ProductBank", bank)
        send(w3, key, bank_contract.functions.deposit(token, per_bank))
        # a bank in steady state: its funds already in its book in MultiTokenPushPull
        # (otherwise its first push moves them: bench/gas.py measures that once)
        send(w3, key, bank_contract.functions.fundBook(token))
        async with ctx.sessions() as session:
            session.add(
                Product(
                    id=product_id,
                    name=f"Traffic {index}",
                    primary_domain=f"traffic-{index}.example",
                    domains=[f"traffic-{index}.example"],
                    owner_wallet=Account.create().address,
                )
            )
            await session.flush()
            session.add(ProductBank(product_id=product_id, chain_id=31337, address=bank))
            for number in range(args.campaigns_per_bank):
                campaign = Campaign(**_campaign_row(product_id, f"traffic {index}.{number}", token))
                session.add(campaign)
                campaigns.append(campaign)
                cid = bytes.fromhex(campaign.chain_campaign_id[2:])
                allocate = bank_contract.functions.allocateCampaignBudget
                send(w3, key, allocate(cid, token, 0, UNLIMITED))
            await session.commit()
        if (index + 1) % 25 == 0:
            print(
                f"  {index + 1}/{args.banks} banks funded ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return campaigns


def _campaign_row(product_id: str, name: str, token: str) -> dict[str, Any]:
    """An active campaign paying a fixed 1 per purchase, as the bench seeds them."""
    campaign_id = uuid.uuid4()
    return {
        "id": campaign_id,
        "product_id": product_id,
        "chain_campaign_id": "0x" + keccak(campaign_id.bytes).hex(),
        "name": name,
        "trigger": "purchase.completed",
        "token": token,
        "reward_type": "fixed",
        "reward_config": {"amount": "1"},
        "user_bps": 10_000,
        "decay_bps": 0,
        "max_depth": 0,
        "status": "active",
    }


async def arrive(
    ctx: AppContext, campaigns: list[Campaign], count: int, pool: list[str], rng: random.Random
) -> None:
    """`count` rewards, each to a random campaign and a wallet of the pool, available now."""
    if not count:
        return
    async with ctx.sessions() as session:
        picks = [(rng.choice(campaigns), rng.choice(pool)) for _ in range(count)]
        interactions = [
            {
                "product_id": campaign.product_id,
                "wallet": wallet,
                "type": "purchase.completed",
                "source": "cli",
            }
            for campaign, wallet in picks
        ]
        ids = (
            await session.scalars(insert(Interaction).returning(Interaction.id), interactions)
        ).all()
        rows = [
            {
                "product_id": campaign.product_id,
                "campaign_id": campaign.id,
                "interaction_id": interaction_id,
                "wallet": wallet,
                "level": 0,
                "token": campaign.token,
                "amount": rng.randint(10**15, 10**19),
            }
            for (campaign, wallet), interaction_id in zip(picks, ids, strict=True)
        ]
        await session.execute(insert(Reward), rows)
        await session.commit()


async def run_cadence(
    ctx: AppContext,
    counters: Counters,
    campaigns: list[Campaign],
    interval_s: int,
    hours: float,
    rng: random.Random,
    *,
    max_wait_s: int = 0,
) -> Cadence:
    """Rewards arrive for `hours`; one push cycle per `interval_s` settles what is due.

    With `max_wait_s`, every campaign lets its queue wait that long (its settlement
    cadence); simulated time passes by moving the pending rows' `available_at` back one
    interval before each cycle (outside the counted statements), so the builder's own
    rule decides what is due.
    """
    result = Cadence(interval_s=interval_s, hours=hours, max_wait_s=max_wait_s)
    await _set_cadence(ctx, campaigns, max_wait_s)
    cycles = int(hours * 3600 // interval_s)
    expected = len(campaigns) * REWARDS_PER_CAMPAIGN_PER_DAY * interval_s / 86_400
    total_expected = expected * cycles
    keys = [Account.create() for _ in range(max(int(total_expected * 0.7), 10))]
    pool = [each.address for each in keys]
    options = load_options(receipt_wait_s=60)
    for cycle in range(cycles):
        count = _poisson(rng, expected)
        if max_wait_s:
            await _age_pending(ctx, interval_s)
        await arrive(ctx, campaigns, count, pool, rng)
        rpc, sql, methods = counters.rpc, counters.sql, Counter(counters.methods)
        started = time.perf_counter()
        report = await push_once(ctx, options=options)
        took = time.perf_counter() - started
        if report.errors:
            raise RuntimeError(f"push cycle failed: {report.errors}")
        result.cycles += 1
        result.rewards += report.rewards_pushed
        result.transactions += len(report.tx_hashes)
        result.gas += report.gas_used
        result.rpc_calls += counters.rpc - rpc
        for method, calls in (counters.methods - methods).items():
            result.rpc_by_method[method] = result.rpc_by_method.get(method, 0) + calls
        result.sql_statements += counters.sql - sql
        result.cycle_seconds_total += took
        result.cycle_seconds_max = max(result.cycle_seconds_max, took)
        result.batches += report.batches_pushed
        # outside the counted statements: the next cycle's baseline is taken after this
        result.batches_beyond_first_per_bank += await _batches_beyond_first_per_bank(
            ctx, report.tx_hashes
        )
        if (cycle + 1) % max(cycles // 6, 1) == 0:
            print(
                f"  every {interval_s} s: cycle {cycle + 1}/{cycles}, "
                f"{result.rewards} rewards in {result.transactions} tx",
                flush=True,
            )
    result.first_rewards = await _first_rewards(ctx, keys)
    result.claim_first_reward, result.relayed_batches = await _claim_first_rewards(
        ctx, keys, campaigns[0].token
    )
    async with ctx.sessions() as session:
        result.left_pending = int(
            await session.scalar(
                select(func.count()).select_from(Reward).where(Reward.status == "pending")
            )
            or 0
        )
        # the next run starts from an empty queue, every cycle
        await session.execute(
            update(Reward).where(Reward.status == "pending").values(status="cancelled")
        )
        await session.commit()
    await _set_cadence(ctx, campaigns, 0)
    return result


RELAYED_BATCH_SIZES = range(1, 9)


async def _first_rewards(ctx: AppContext, keys: list[Any]) -> int:
    """How many of the run's rewards were their wallet's first (wallets of this run)."""
    async with ctx.sessions() as session:
        wallets = await session.scalar(
            select(func.count(func.distinct(Reward.wallet))).where(
                Reward.wallet.in_([each.address for each in keys])
            )
        )
    return int(wallets or 0)


async def _claim_first_rewards(
    ctx: AppContext, keys: list[Any], token: str
) -> tuple[int, dict[int, int]]:
    """Gas of claiming a first reward, each by wallets of the pool whose only reward is
    pushed: (from one wallet's own key, {n: the relayer's transaction carrying n such
    claims}); (0, {}) when the pool has too few."""
    by_address = {each.address: each for each in keys}
    async with ctx.sessions() as session:
        rows = (
            await session.execute(
                select(Reward.wallet, func.min(Reward.amount))
                .where(Reward.wallet.in_(list(by_address)))
                .group_by(Reward.wallet)
                .having(
                    func.count() == 1,
                    func.count().filter(Reward.status == "pushed") == 1,
                )
                .order_by(Reward.wallet)
                .limit(1 + sum(RELAYED_BATCH_SIZES))
            )
        ).all()
    if len(rows) < 1 + sum(RELAYED_BATCH_SIZES):
        return 0, {}
    w3 = connect(ctx.rpc_url)  # outside the counted provider
    push_pull = contract(w3, "MultiTokenPushPull", ctx.settings.push_pull_address)
    for wallet, amount in rows:
        pending = push_pull.functions.getPendingAmount(token, wallet).call()
        if pending != int(amount):
            raise RuntimeError(f"{wallet} has {pending} pending, its one reward is {amount}")
    (own, _), rest = rows[0], [wallet for wallet, _ in rows[1:]]
    w3.provider.make_request("anvil_setBalance", [own, hex(10**18)])
    receipt = send(w3, by_address[own].key, push_pull.functions.pullReward(token))
    relayed: dict[int, int] = {}
    env = RelayerEnv(ctx)
    for size in RELAYED_BATCH_SIZES:
        chosen, rest = rest[:size], rest[size:]
        relayed[size] = await _relayed_batch(ctx, env, chosen)
    for wallet, _ in rows:
        if push_pull.functions.getPendingAmount(token, wallet).call() != 0:
            raise RuntimeError(f"{wallet}'s claim left its reward pending")
    return int(receipt["gasUsed"]), relayed


async def _relayed_batch(ctx: AppContext, env: RelayerEnv, wallets: list[str]) -> int:
    """The wallets claim through the relayer's service; its job sends them in one
    transaction, tracked until mined: that transaction's gas."""
    for wallet in wallets:
        await relayer_service.claim(env, wallet, None)
    if await send_queued_claims(env) != len(wallets):
        raise RuntimeError(f"the relayer's batch did not carry all {len(wallets)} claims")
    for _ in range(60):
        await track_relays(ctx, env)
        async with ctx.sessions() as session:
            relays = (
                await session.scalars(select(RelayRequest).where(RelayRequest.wallet.in_(wallets)))
            ).all()
        if all(relay.status == "mined" for relay in relays):
            return sum(int(relay.gas_used or 0) for relay in relays)
        await asyncio.sleep(0.2)
    raise RuntimeError("the relayer's batch was not mined")


async def _batches_beyond_first_per_bank(ctx: AppContext, tx_hashes: list[str]) -> int:
    """Batches mined in `tx_hashes` beyond the first of their bank."""
    async with ctx.sessions() as session:
        beyond = await session.scalar(
            select(func.count() - func.count(func.distinct(SettlementBatch.bank_address))).where(
                SettlementBatch.mined_tx_hash.in_(tx_hashes)
            )
        )
    return int(beyond or 0)


async def _set_cadence(ctx: AppContext, campaigns: list[Campaign], max_wait_s: int) -> None:
    async with ctx.sessions() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id.in_([c.id for c in campaigns]))
            .values(settle_max_wait_s=max_wait_s)
        )
        await session.commit()


async def _age_pending(ctx: AppContext, seconds: int) -> None:
    async with ctx.sessions() as session:
        await session.execute(
            update(Reward)
            .where(Reward.status == "pending")
            .values(available_at=Reward.available_at - timedelta(seconds=seconds))
        )
        await session.commit()


async def empty_cycle(ctx: AppContext, counters: Counters) -> dict[str, Any]:
    """A cycle with nothing pending: what the banks cost when idle."""
    rpc, sql, methods = counters.rpc, counters.sql, Counter(counters.methods)
    started = time.perf_counter()
    await push_once(ctx, options=load_options(receipt_wait_s=0))
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "rpc_calls": counters.rpc - rpc,
        "rpc_by_method": dict(counters.methods - methods),
        "sql_statements": counters.sql - sql,
    }


async def idle_at_design_scale(ctx: AppContext, counters: Counters, banks: int) -> dict[str, Any]:
    """The empty cycle again with DESIGN_BANKS banks stored, each with its campaigns and a
    role already known (the steady state): the extra banks exist in the database only, so
    a cycle that asked the chain about any of them would fail, and one that read them one
    by one would show in its SQL count."""
    extra = DESIGN_BANKS - banks
    signer = Account.from_key(ctx.settings.effective_signer_key()).address
    products, bank_rows, roles, campaign_rows = [], [], [], []
    for index in range(extra):
        product_id = "0x" + keccak(text=f"idle-{index}.example").hex()
        bank = Account.create().address
        products.append(
            {
                "id": product_id,
                "name": f"Idle {index}",
                "primary_domain": f"idle-{index}.example",
                "domains": [f"idle-{index}.example"],
                "owner_wallet": bank,
            }
        )
        bank_rows.append({"product_id": product_id, "chain_id": 31337, "address": bank})
        roles.append(
            {"chain_id": 31337, "signer": signer, "bank": bank, "is_distributor": True, "epoch": 0}
        )
        campaign_rows += [_campaign_row(product_id, f"idle {index}.{n}", bank) for n in range(2)]
    async with ctx.sessions() as session:
        for model, rows in (
            (Product, products),
            (ProductBank, bank_rows),
            (SettlementBankRole, roles),
            (Campaign, campaign_rows),
        ):
            await session.execute(insert(model), rows)
        await session.commit()
    return {"banks": DESIGN_BANKS, **await empty_cycle(ctx, counters)}


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a rounded normal for large ones."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, product, count = pow(2.718281828459045, -mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traffic", action="store_true", help="traffic-shaped mode (see above)")
    parser.add_argument("--banks", type=int, default=200, help="traffic mode: banks (products)")
    parser.add_argument("--campaigns-per-bank", type=int, default=2)
    parser.add_argument("--hours", type=float, default=6.0, help="traffic mode: simulated hours")
    parser.add_argument(
        "--cadence-hours",
        type=float,
        default=48.0,
        help="traffic mode: simulated hours of the daily-cadence run (hourly cycles)",
    )


def report_lines(result: dict[str, Any]) -> list[str]:
    """Human-readable figures, with the extrapolation's arithmetic."""
    lines = [
        f"traffic: {result['banks']} banks x {result['campaigns_per_bank']} campaigns, "
        f"{REWARDS_PER_CAMPAIGN_PER_DAY:g} rewards/campaign/day, {result['hours']} h simulated",
        f"idle cycle at {result['banks']} banks: {result['empty_cycle']['seconds']} s, "
        f"{result['empty_cycle']['rpc_calls']} RPC calls, "
        f"{result['empty_cycle']['sql_statements']} SQL statements",
    ]
    if "empty_cycle_design_banks" in result:
        idle = result["empty_cycle_design_banks"]
        lines.append(
            f"idle cycle at {idle['banks']:,} banks (stored, roles known): {idle['seconds']} s, "
            f"{idle['rpc_calls']} RPC calls, {idle['sql_statements']} SQL statements"
        )
    for name in ("hourly", "five_minutes", "daily_cadence"):
        if name not in result:
            continue
        c = result[name]
        wait = f" (campaigns wait up to {c['max_wait_s']} s)" if c["max_wait_s"] else ""
        left = f", {c['left_pending']} still queued at the end" if c["left_pending"] else ""
        if c["max_wait_s"]:
            design_tx = (
                f"{DESIGN_REWARDS_PER_DAY:,} rewards / {c['rewards_per_tx']} rewards per tx = "
                f"{c['design_transactions_per_day']:,} tx/day"
            )
        else:
            design_tx = (
                f"{c['transactions']} tx / ({result['banks']} banks x {c['hours']} h) x "
                f"{DESIGN_BANKS} x 24 = {c['design_transactions_per_day']:,} tx/day"
            )
        lines += [
            f"{name}{wait}: {c['rewards']} rewards{left}, {c['transactions']} tx "
            f"({c['rewards_per_tx']} rewards/tx), {c['gas_per_reward']:,} gas/reward, "
            f"{c['gas_per_tx']:,} gas/tx, {c['rpc_per_reward']} RPC and "
            f"{c['sql_per_reward']} SQL per reward, cycle {c['cycle_seconds_mean']} s "
            f"(max {c['cycle_seconds_max']} s)",
            f"  at {DESIGN_BANKS} banks: {design_tx}; "
            f"{c['gas_per_reward']:,} gas x {DESIGN_REWARDS_PER_DAY:,} rewards = "
            f"{c['design_gas_per_day']:,} gas/day",
            f"  a first reward end to end: {c['gas_per_reward']:,} push share + "
            f"{c['claim_first_reward']:,} claim = {c['first_reward_gas']:,} gas "
            f"({c['first_reward_gas_gasless']:,} with a lone gasless claim)",
            "  relayed claims, gas per transaction by claims carried: "
            + ", ".join(f"{n}: {gas:,}" for n, gas in c["relayed_batches"].items()),
            f"  at the design's {c['first_rewards'] / max(c['rewards'], 1):.0%} first rewards, "
            f"{DESIGN_REWARDS_PER_DAY * c['first_rewards'] // max(c['rewards'], 1):,} first "
            f"claims a day in {TRACK_INTERVAL_S} s batches: a claim's expected share "
            f"{c['claim_first_reward_relayed']:,}; first reward relayed "
            f"{c['first_reward_gas_relayed']:,} gas",
        ]
    return lines
