"""Ledger model check: the real services, driven at random, against a model of the ledger.

Hypothesis ingests interactions through the HTTP app, runs the pusher (whole
cycles, and cycles that crash at each crash point and are restarted by the next
cycle), refunds rewarded interactions (also while their batch is in flight),
loses pushes in flight so that their deadline passes (void) or the base fee
spikes above what their stored bytes may pay (refused), revokes and re-grants
the distributor (old signatures die), claims from the wallets' own keys, mines,
and reorgs anvil. After every step, per (token, wallet):

- earned (model) == queued + in flight + pushed + cancelled (database); only rows
  of refunded interactions are ever cancelled, and a refunded interaction has no
  row left in pending; each ingestion answers exactly the split and the referral
  verdict the model expects (with the budget cancelled rows gave back);
- on-chain pending + claimed == what the batches whose nonce the bank used paid
  (so nothing is credited twice or without a batch), and once the pusher has
  drained everything, on-chain pending == pushed - claimed and reconcile is clean;
- the campaign's budget is never exceeded, in the database or on-chain;
- no balance goes negative: the bank holds funding - paid, the push-pull
  contract exactly its total pending, each wallet exactly what it claimed.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from web3 import Web3

from backend.campaigns import refunds
from backend.chain import connect, contract, deploy_bank, deploy_core, deploy_test_token, send
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.demo.accounts import people
from backend.products.models import ProductBank
from backend.rewards.models import Reward
from backend.runtime.anvil import EmbeddedAnvil, rpc_call
from backend.settlement import faults
from backend.settlement.faults import STEPS
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.reconcile import reconcile
from tests.conftest import asgi_client, truncate_all
from tests.factories import make_campaign, make_product
from tests.ledger.model import Claim, LedgerModel
from tests.settlement.conftest import FAST, KEY, SIGNER
from tests.settlement.helpers import SimulatedCrash

# anvil accounts 1..5: funded with test ETH, keys known, so they can claim themselves
CAST = people()
WALLETS = [CAST[name] for name in ("owner", "alice", "bob", "carol", "dave")]
FUNDING = 10**30
DRAIN_ROUNDS = 8
MAX_REORG_DEPTH = 3
# A base-fee spike is 50x the current fee, at most this (100,000 gwei): spikes compound
# within an example, and anvil (1.7.1) panics on a base fee beyond 64 bits (CI: a
# Uint conversion overflow in anvil_setNextBlockBaseFeePerGas killed the node).
SPIKE_CEILING_WEI = 10**14
UNSETTLED = ("signed", "submitted", "cancelling")
DISTRIBUTOR_ROLE = keccak(text="DISTRIBUTOR_ROLE")
NONCE_PAID = 1

who = st.integers(0, len(WALLETS) - 1)
LEDGER_RUNS = hypothesis_settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
LEDGER_RETRY = hypothesis_settings(LEDGER_RUNS, database=None)


class World:
    """What every example shares: one event loop, one context, one app client, the core."""

    def __init__(self, settings: Settings, database_url: str, rpc_url: str):
        self.rpc_url = rpc_url
        self.w3: Web3 = connect(rpc_url)
        self.snapshot = self.rpc("evm_snapshot")
        self.core = {name: str(address) for name, address in deploy_core(self.w3, KEY).items()}
        self.settings = settings.model_copy(
            update={
                "confirmations": 1,  # a push stays in flight until one more block
                "batch_size": 2,  # several batches per cycle, so crashes land between them
                "push_pull_address": self.core["push_pull"],
                "bank_factory_address": self.core["bank_factory"],
            }
        )
        self.runner = asyncio.Runner()
        self.ctx = AppContext(self.settings, database_url, rpc_url)
        self.client: httpx.AsyncClient = self.run(self._open_client())

    async def _open_client(self) -> httpx.AsyncClient:
        from backend.api.app import create_app

        app = create_app(
            self.settings,
            database_url=self.ctx.database_url,
            rpc_url=self.rpc_url,
            context=self.ctx,
        )
        return asgi_client(app)

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.runner.run(coroutine)

    def rpc(self, method: str, params: list | None = None) -> Any:
        return rpc_call(self.rpc_url, method, params)

    def close(self) -> None:
        try:
            self.run(truncate_all(self.ctx))
            self.run(self.client.aclose())
            self.run(self.ctx.close())
        finally:
            self.runner.close()
            self.rpc("evm_revert", [self.snapshot])


def test_ledger__random_ingest_push_crash_claim_reorg__model_holds(
    settings: Settings, database_url: str
) -> None:
    # A chain of its own: reorgs and snapshot reverts by the thousand, and anvil (1.7.1)
    # loses stored blocks when a revert meets a snapshot a reorg invalidated; on the
    # session's node that broke later suites (blocks, receipts and logs gone).
    for attempt in (1, 2):
        log_file = Path(tempfile.mkdtemp(prefix="ledger-anvil-")) / "anvil.log"
        node = EmbeddedAnvil(log_file=log_file)
        node.start()
        try:
            _check_the_ledger(
                settings.model_copy(update={"rpc_url": node.url}),
                database_url,
                node.url,
                # Again without Hypothesis's example database: the first node's death was
                # saved there as a failing example, and replaying it first walked the new node
                # into the same anvil panic (CI: both attempts died at the same step).
                LEDGER_RUNS if attempt == 1 else LEDGER_RETRY,
            )
            return
        except Exception:
            died = node.process is not None and node.process.poll() is not None
            if not died:
                raise  # a finding about our code: never retried
            # The node itself died mid-run (seen once in CI as "connection refused"): that
            # says nothing about the ledger; say why, and run the check once more on a new one.
            tail = log_file.read_text(errors="replace")[-4000:]
            print(f"anvil exited with {node.process.returncode}; its log ends:\n{tail}")
            if attempt == 2:
                raise
        finally:
            node.stop()


# Exploration rounds at most: more only while a dangerous path has not been walked yet
# (CI once saw 15 examples without a single crash that reached its step).
EXPLORATION_ROUNDS = 3


def _covered(stats: Counter[str]) -> bool:
    """The runs exercised the dangerous paths, not only quiet ones."""
    return (
        stats["credited"] > 0
        and stats["crashed"] > 0
        and stats["refunded"] > 0
        and stats["revoked"] > 0
        and stats["expired"] + stats["fee_spiked"] > 0
    )


def _check_the_ledger(
    settings: Settings, database_url: str, rpc_url: str, runs: hypothesis_settings
) -> None:
    world = World(settings, database_url, rpc_url)
    stats: Counter[str] = Counter()
    try:
        bound = type("BoundLedger", (Ledger,), {"world": world, "stats": stats})
        for _ in range(EXPLORATION_ROUNDS):  # a finding raises at once: never explored away
            run_state_machine_as_test(bound, settings=runs)
            if _covered(stats):
                break
    finally:
        world.close()
    print("ledger model check coverage:", dict(stats))
    assert _covered(stats), stats


class Ledger(RuleBasedStateMachine):
    world: World  # bound by the test, shared by every example
    stats: Counter[str]

    def __init__(self) -> None:
        super().__init__()
        self.w3 = self.world.w3
        self.snapshot = self.world.rpc("evm_snapshot")
        self.ready = False
        self.unhealed_reorg = False  # a reorg took pushes away; the next full cycle heals
        self.rewarded: list[int] = []  # interactions that earned something
        self.refunded: set[int] = set()
        self.base_fee = int(self.w3.eth.get_block("latest")["baseFeePerGas"])

    # --- set-up: one product, a funded bank, one capped campaign -----------------------

    @initialize(
        base=st.integers(10**6, 10**7),
        user_bps=st.integers(1_000, 9_000),
        decay_bps=st.integers(1_000, 9_000),
        max_depth=st.integers(1, 3),
        budget_rewards=st.one_of(st.just(0), st.integers(1, 8)),
        slack=st.integers(0, 10**6 - 1),
    )
    def open_shop(
        self,
        base: int,
        user_bps: int,
        decay_bps: int,
        max_depth: int,
        budget_rewards: int,
        slack: int,
    ) -> None:
        cap = budget_rewards * base + slack if budget_rewards else 0
        self.model = LedgerModel(base, user_bps, decay_bps, max_depth, cap)
        self.world.run(truncate_all(self.world.ctx))
        self.token = deploy_test_token(self.w3, KEY, "Reward", "RWD")
        self.world.run(self._rows(cap))
        self.erc20 = contract(self.w3, "MockERC20", self.token)
        self.push_pull = contract(self.w3, "MultiTokenPushPull", self.world.core["push_pull"])
        self.bank_contract = contract(self.w3, "ProductBank", self.bank)
        send(self.w3, KEY, self.erc20.functions.mint(SIGNER, FUNDING))
        send(self.w3, KEY, self.erc20.functions.approve(self.bank, FUNDING))
        send(self.w3, KEY, self.bank_contract.functions.deposit(self.token, FUNDING))
        allocate = self.bank_contract.functions.allocateCampaignBudget
        send(self.w3, KEY, allocate(self.chain_campaign, self.token, 0, cap or 2**256 - 1))
        self.setup_block = self.w3.eth.block_number  # reorgs never reach below this
        self.ready = True

    async def _rows(self, cap: int) -> None:
        async with self.world.ctx.sessions() as session:
            product, self.api_key = await make_product(session, rate_limit_per_hour=1_000_000)
            self.product_id = product.id
            self.bank = deploy_bank(
                self.w3, KEY, self.world.core["bank_factory"], bytes.fromhex(product.id[2:]), SIGNER
            )
            session.add(ProductBank(product_id=product.id, chain_id=31337, address=self.bank))
            await session.commit()
            campaign = await make_campaign(
                session,
                product,
                id=uuid.uuid4(),
                trigger="webshop.open",
                token=self.token,
                reward_config={"amount": str(self.model.base)},
                user_bps=self.model.user_bps,
                decay_bps=self.model.decay_bps,
                max_depth=self.model.max_depth,
                budget_cap=cap,
            )
            self.campaign_id = campaign.id
            self.chain_campaign = bytes.fromhex(campaign.chain_campaign_id[2:])

    def teardown(self) -> None:
        try:
            if self.ready:
                self.drain()
                self.check_settled()
        finally:
            self.world.rpc("evm_setAutomine", [True])
            self.world.rpc("evm_revert", [self.snapshot])
            # anvil keeps a pending base-fee override across snapshot reverts
            self.world.rpc("anvil_setNextBlockBaseFeePerGas", [hex(self.base_fee)])

    # --- rules ---------------------------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(users=st.lists(who, min_size=1, max_size=4))
    def visit(self, users: list[int]) -> None:
        for user in users:
            wallet = WALLETS[user].address
            self.model.give_back(self.world.run(self.cancelled_total()))
            answer = self.ingest(wallet, "webshop.open", {})
            expected = self.model.visit(wallet)
            paid = {r["wallet"]: int(r["amount"]) for r in answer["rewards"]}
            assert paid == expected, (paid, expected)
            self.stats["earned"] += bool(paid)
            if paid:
                self.rewarded.append(int(answer["interaction_id"]))

    @precondition(lambda self: self.ready)
    @rule(user=who, referrer=who)
    def refer(self, user: int, referrer: int) -> None:
        wallet, by = WALLETS[user].address, WALLETS[referrer].address
        answer = self.ingest(wallet, "referral.referred", {"referrer": by})
        accepted = self.model.refer(wallet, by)
        assert (answer["flag"] is None) == accepted, (answer, self.model.referrer)
        assert answer["rewards"] == []

    @precondition(lambda self: self.ready)
    @rule()
    def push(self) -> None:
        report = self.world.run(push_once(self.world.ctx, options=FAST))
        assert report.errors == [], report.errors
        assert report.halted_banks == []
        self.stats["credited"] += report.batches_pushed
        self.unhealed_reorg = False

    @precondition(lambda self: self.ready)
    @rule(point=st.sampled_from(STEPS), visitor=who)
    def push_crashes_and_restarts_later(self, point: str, visitor: int) -> None:
        """The pusher dies at `point` (like SIGKILL: nothing catches it); a later push resumes.

        With nothing queued or in flight, `visitor` comes by first, so the crash has a batch
        to land in (CI once drew 45 examples in which this rule never found one)."""
        if self.world.run(self.outstanding()) == (0, 0):
            self.visit([visitor])
        original = faults.crash_point

        def crash_point(step: str) -> None:
            if step == point:
                raise SimulatedCrash(step)

        faults.crash_point = crash_point
        try:
            self.world.run(push_once(self.world.ctx, options=FAST))
        except SimulatedCrash:
            self.stats["crashed"] += 1
        finally:
            faults.crash_point = original

    @precondition(lambda self: self.ready and bool(self.rewarded))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        """The shop refunds an order: whatever of it is not pushed yet must never be paid."""
        interaction = data.draw(st.sampled_from(self.rewarded))
        self.world.run(self._refund(interaction))
        self.refunded.add(interaction)
        self.stats["refunded"] += 1

    async def _refund(self, interaction: int) -> None:
        async with self.world.ctx.sessions() as session:
            await refunds.cancel_interaction_rewards(session, [interaction], "order refunded")
            await session.commit()

    @precondition(lambda self: self.ready and self.world.run(self.outstanding()) != (0, 0))
    @rule(spike=st.booleans())
    def push_lost_in_flight(self, spike: bool) -> None:
        """A cycle's transactions leave, the node loses them; then either the batches'
        deadline passes (void) or the base fee jumps above what their bytes may pay."""
        self.world.rpc("evm_setAutomine", [False])
        try:
            report = self.world.run(push_once(self.world.ctx, options=FAST, wait_s=0))
            for tx_hash in [*report.tx_hashes, *report.replaced, *report.rebroadcast]:
                self.world.rpc("anvil_dropTransaction", [tx_hash])
            if spike:
                base = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
                fee = min(50 * base + 10**10, max(SPIKE_CEILING_WEI, base))
                self.world.rpc("anvil_setNextBlockBaseFeePerGas", [hex(fee)])
            else:
                self.world.rpc("evm_increaseTime", [FAST.deadline_s + 60])
            self.world.rpc("evm_mine")
        finally:
            self.world.rpc("evm_setAutomine", [True])
        self.stats["fee_spiked" if spike else "expired"] += 1

    @precondition(lambda self: self.ready)
    @rule()
    def rotate_distributor_key(self) -> None:
        """Key rotation on the bank: batches signed before it can never pay again."""
        send(self.w3, KEY, self.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
        send(self.w3, KEY, self.bank_contract.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
        self.stats["revoked"] += 1

    @precondition(lambda self: self.ready and any(self.claimable()))
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        person = data.draw(st.sampled_from([p for p in WALLETS if self.onchain_pending(p.address)]))
        pending = self.onchain_pending(person.address)
        before = self.erc20.functions.balanceOf(person.address).call()
        receipt = send(self.w3, person.key, self.push_pull.functions.pullReward(self.token))
        after = self.erc20.functions.balanceOf(person.address).call()
        assert after - before == pending
        self.model.claims.append(Claim(int(receipt["blockNumber"]), person.address, pending))
        self.stats["claimed"] += 1

    @precondition(lambda self: self.ready)
    @rule(blocks=st.integers(1, 3))
    def mine(self, blocks: int) -> None:
        for _ in range(blocks):
            self.world.rpc("evm_mine")

    @precondition(lambda self: self.ready)
    @rule(depth=st.integers(1, MAX_REORG_DEPTH))
    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks with empty ones: pushes and claims in them vanish."""
        head = self.w3.eth.block_number
        depth = min(depth, head - self.setup_block)
        if depth < 1:
            return
        self.world.rpc("anvil_reorg", [depth, []])
        self.model.reorg(head - depth + 1)
        self.keep_distributor()
        self.unhealed_reorg = True
        self.stats["reorged"] += 1

    @precondition(lambda self: self.ready)
    @rule()
    def settle(self) -> None:
        self.drain()
        self.check_settled()

    # --- invariants ----------------------------------------------------------------------

    @precondition(lambda self: self.ready)
    @invariant()
    def ledger_holds(self) -> None:
        ledger = self.world.run(self.read_ledger())
        by_status, per_wallet, batches, rows_of, used_budget, cancelled = ledger
        # earned == queued + in flight + pushed + cancelled, in total and per wallet
        assert set(by_status) <= {"pending", "batched", "pushed", "cancelled"}, by_status
        assert sum(by_status.values()) == sum(self.model.earned.values())
        cancelled_by_wallet: Counter[str] = Counter()
        for interaction, wallet, status, amount in cancelled:
            # only refunds cancel; a refunded interaction never waits in pending
            assert interaction in self.refunded, interaction
            if status == "cancelled":
                cancelled_by_wallet[wallet] += amount
            else:
                assert status != "pending", (interaction, status)
        assert sum(cancelled_by_wallet.values()) == by_status.get("cancelled", 0)
        live = {w: a - cancelled_by_wallet[w] for w, a in self.model.earned.items()}
        assert per_wallet == {w: a for w, a in live.items() if a}
        assert all(amount > 0 for amount in per_wallet.values())

        paid: Counter[str] = Counter()
        paid_total = 0
        for batch_id, nonce, status, payload, total in batches:
            state = self.bank_contract.functions.nonceState(bytes.fromhex(nonce[2:])).call()
            if state != NONCE_PAID:
                assert status != "pushed" or self.unhealed_reorg, (batch_id, status)
                continue
            # the bank paid this nonce: its rows are settled by it, never released or re-batched
            assert status in ("submitted", "cancelling", "pushed"), (batch_id, status)
            assert rows_of.get(batch_id, 0) == total, (batch_id, rows_of.get(batch_id), total)
            for item in payload:
                paid[Web3.to_checksum_address(item["user"])] += int(item["amount"])
            paid_total += total
        for person in WALLETS:
            wallet = person.address
            claimed = self.model.claimed(wallet)
            assert self.onchain_pending(wallet) + claimed == paid[wallet], wallet
            assert self.erc20.functions.balanceOf(wallet).call() == claimed, wallet

        self.model.give_back(by_status.get("cancelled", 0))
        cap = self.model.budget_cap
        assert used_budget == self.model.used_budget
        remaining = self.bank_contract.functions.getCampaignBudget(
            self.chain_campaign, self.token
        ).call()
        if cap:
            assert used_budget <= cap
            assert paid_total <= used_budget
            assert remaining == cap - paid_total
        else:
            assert remaining == 2**256 - 1
        funds = self.bank_contract.functions.availableFunds(self.token).call()
        assert funds == FUNDING - paid_total  # the bank's balance plus its book
        book = self.push_pull.functions.bookOf(self.bank, self.token).call()
        total_pending = self.push_pull.functions.getTotalPending(self.token).call()
        held = self.erc20.functions.balanceOf(self.push_pull.address).call()
        assert held == total_pending + book
        assert total_pending == sum(self.onchain_pending(p.address) for p in WALLETS)

    # --- helpers ---------------------------------------------------------------------------

    def ingest(self, wallet: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        response = self.world.run(
            self.world.client.post(
                "/api/external/interactions",
                json={"product_id": self.product_id, "wallet": wallet, "type": kind, "data": data},
                headers={"Authorization": f"Bearer {self.api_key}", "Prefer": "wait=10"},
            )
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def keep_distributor(self) -> None:
        """A reorg can take the re-grant of a key rotation away: the owner sends it again."""
        bank = self.bank_contract.functions
        if not bank.hasRole(DISTRIBUTOR_ROLE, SIGNER).call():
            send(self.w3, KEY, bank.grantRole(DISTRIBUTOR_ROLE, SIGNER))

    def claimable(self) -> list[int]:
        return [self.onchain_pending(person.address) for person in WALLETS]

    def onchain_pending(self, wallet: str) -> int:
        return int(self.push_pull.functions.getPendingAmount(self.token, wallet).call())

    async def read_ledger(self) -> tuple[Any, ...]:
        async with self.world.ctx.sessions() as session:
            by_status = {
                status: int(total)
                for status, total in await session.execute(
                    select(Reward.status, func.sum(Reward.amount)).group_by(Reward.status)
                )
            }
            per_wallet = {
                wallet: int(total)
                for wallet, total in await session.execute(
                    select(Reward.wallet, func.sum(Reward.amount))
                    .where(Reward.status != "cancelled")
                    .group_by(Reward.wallet)
                )
            }
            batches = (
                await session.execute(
                    select(
                        SettlementBatch.id,
                        SettlementBatch.nonce,
                        SettlementBatch.status,
                        SettlementBatch.payload,
                        SettlementBatch.total,
                    )
                )
            ).all()
            rows_of = {
                batch_id: int(total)
                for batch_id, total in await session.execute(
                    select(Reward.batch_id, func.sum(Reward.amount))
                    .where(Reward.status.in_(["batched", "pushed"]))
                    .group_by(Reward.batch_id)
                )
            }
            from backend.campaigns.models import Campaign

            used_budget = await session.scalar(
                select(Campaign.used_budget).where(Campaign.id == self.campaign_id)
            )
            refunded_rows = [
                (interaction, wallet, status, int(amount))
                for interaction, wallet, status, amount in await session.execute(
                    select(
                        Reward.interaction_id, Reward.wallet, Reward.status, Reward.amount
                    ).where(
                        (Reward.status == "cancelled")
                        | Reward.interaction_id.in_(sorted(self.refunded))
                    )
                )
            ]
        return by_status, per_wallet, batches, rows_of, int(used_budget or 0), refunded_rows

    async def cancelled_total(self) -> int:
        async with self.world.ctx.sessions() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(Reward.amount), 0)).where(
                    Reward.status == "cancelled"
                )
            )
        return int(total or 0)

    def drain(self) -> None:
        """Push and mine until nothing is queued or in flight (bounded rounds)."""
        if self.model.exhausted:
            self.stats["drained_exhausted"] += 1
        for _ in range(DRAIN_ROUNDS):
            report = self.world.run(push_once(self.world.ctx, options=FAST))
            assert report.errors == [], report.errors
            self.stats["credited"] += report.batches_pushed
            self.world.rpc("evm_mine")  # the confirmation the last push waits for
            self.unhealed_reorg = False
            if self.world.run(self.outstanding()) == (0, 0):
                return

    async def unsettled(self) -> list[tuple[Any, ...]]:
        """What a failed drain left: each unsettled batch's state, for the failure message."""
        async with self.world.ctx.sessions() as session:
            rows = await session.execute(
                select(
                    SettlementBatch.status,
                    SettlementBatch.error_code,
                    SettlementBatch.error_message,
                    SettlementBatch.epoch,
                    SettlementBatch.attempts,
                    SettlementBatch.next_attempt_at,
                ).where(SettlementBatch.status.in_(UNSETTLED))
            )
            return [tuple(row) for row in rows]

    async def outstanding(self) -> tuple[int, int]:
        async with self.world.ctx.sessions() as session:
            unsettled = await session.scalar(
                select(func.count())
                .select_from(SettlementBatch)
                .where(SettlementBatch.status.in_(UNSETTLED))
            )
            unpushed = await session.scalar(
                select(func.count())
                .select_from(Reward)
                .where(Reward.status.not_in(["pushed", "cancelled"]))
            )
        return int(unsettled or 0), int(unpushed or 0)

    def check_settled(self) -> None:
        """After draining: every earned reward pushed once; chain == pushed - claimed."""
        assert self.world.run(self.outstanding()) == (0, 0), self.world.run(self.unsettled())
        by_status, per_wallet, *_ = self.world.run(self.read_ledger())
        cancelled = by_status.get("cancelled", 0)
        assert by_status.get("pushed", 0) == sum(self.model.earned.values()) - cancelled
        for person in WALLETS:
            wallet = person.address
            pushed = per_wallet.get(wallet, 0)
            assert self.onchain_pending(wallet) == pushed - self.model.claimed(wallet), wallet
        report = self.world.run(reconcile(self.world.ctx))
        assert report.mismatches == [], report.as_dict()
