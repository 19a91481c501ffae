"""Schemathesis against the app's own OpenAPI schema, in process.

The app under test owns its AppContext: schemathesis runs ASGI apps on one
event loop in a thread of its own, and a database pool belongs to the loop
that opened it. Seeding and healing use a second context on a private loop
(`World`), so neither touches the pytest-asyncio loop while a sync test runs.

FUZZ_MAX_EXAMPLES (default 8) bounds the run inside `make test`;
bench/fuzz.sh raises it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from sqlalchemy import update

from backend.api.app import create_app
from backend.chain import connect, deploy_core, deploy_test_token
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.notifications.models import WebhookEndpoint
from backend.products.ids import new_api_key
from backend.products.models import ApiKey, Product, ProductMember, Role
from backend.runtime.anvil import rpc_call
from tests.conftest import truncate_all
from tests.factories import make_campaign, make_product, make_token, wallet

T = TypeVar("T")

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
# bench/fuzz.sh reads the tally from here to print its summary.
REPORT_PATH = os.environ.get("FUZZ_REPORT")
SCHEMA_PATH = "/schema/openapi.json"


@dataclass
class Tally:
    """What the run did: requests per generation mode and status class, and per operation."""

    requests: Counter[str] = field(default_factory=Counter)
    per_operation: dict[str, Counter[int]] = field(default_factory=dict)

    def record(self, case: Any, status: int) -> None:
        mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
        self.requests[f"{mode} {status // 100}xx"] += 1
        self.per_operation.setdefault(case.operation.label, Counter())[status] += 1

    def write(self, path: str) -> None:
        report = {
            "operations": len(self.per_operation),
            "requests": sum(self.requests.values()),
            "by_mode_and_status": dict(sorted(self.requests.items())),
            "by_operation": {
                label: dict(sorted(statuses.items()))
                for label, statuses in sorted(self.per_operation.items())
            },
        }
        with open(path, "w") as out:
            json.dump(report, out, indent=2)


@pytest.fixture(scope="session")
def tally() -> Iterator[Tally]:
    counts = Tally()
    yield counts
    if REPORT_PATH:
        counts.write(REPORT_PATH)


@dataclass
class Seed:
    """Real rows the fuzzer's path parameters are drawn from (besides random values)."""

    product_id: str = ""
    api_key: str = ""
    api_key_id: str = ""
    spare_key_id: str = ""
    other_product_id: str = ""
    campaign_ids: list[str] = field(default_factory=list)
    endpoint_ids: list[str] = field(default_factory=list)
    member_wallet: str = ""
    token: str = ""


class World:
    """Seeds rows and puts back what a fuzzed DELETE took away, on a loop of its own."""

    def __init__(self, settings: Settings, database_url: str, rpc_url: str) -> None:
        w3 = connect(rpc_url)
        self._snapshot = rpc_call(rpc_url, "evm_snapshot")
        signer = settings.effective_signer_key()
        core = deploy_core(
            w3, settings.effective_deployer_key(), w3.eth.account.from_key(signer).address
        )
        # A real ERC-20, so registering a token and deploying a bank reach the chain.
        self.token = deploy_test_token(w3, signer, "Fuzz", "FZZ")
        self.settings = settings.model_copy(
            update={
                "push_pull_address": core["push_pull"],
                "bank_factory_address": core["bank_factory"],
            }
        )
        self.database_url = database_url
        self.rpc_url = rpc_url
        self.seed = Seed()
        self._portal: BlockingPortal | None = None
        self._context: AppContext | None = None

    def run(self, fn: Callable[[AppContext], Awaitable[T]]) -> T:
        assert self._portal is not None and self._context is not None
        context = self._context
        return self._portal.call(fn, context)

    def __enter__(self) -> World:
        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._context = AppContext(self.settings, self.database_url, self.rpc_url)
        self.run(self._seed)
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(truncate_all)
        self.run(lambda context: context.close())
        self._portal_cm.__exit__(None, None, None)
        rpc_call(self.rpc_url, "evm_revert", [self._snapshot])

    async def _seed(self, context: AppContext) -> None:
        await truncate_all(context)
        async with context.sessions() as session:
            product, key = await make_product(session)
            other, _ = await make_product(session)
            await make_token(session, product, address=self.token)
            campaigns = [
                await make_campaign(session, product, token=self.token),
                await make_campaign(session, product, token=self.token, status="draft"),
                await make_campaign(session, other),
            ]
            member = wallet()
            session.add(ProductMember(product_id=product.id, wallet=member, roles=int(Role.ALL)))
            spare, prefix, key_hash = new_api_key()
            spare_row = ApiKey(
                product_id=product.id, name="spare", prefix=prefix, key_hash=key_hash, roles=1
            )
            session.add(spare_row)
            endpoint = WebhookEndpoint(
                id=uuid.uuid4(),
                product_id=product.id,
                url="https://hooks.example/cascade",
                secrets=["whsec_" + "a" * 32],
                events=["rewards.pushed"],
                enabled=True,
                allow_private=False,
            )
            session.add(endpoint)
            await session.commit()
            key_id = await session.scalar(
                ApiKey.__table__.select()
                .with_only_columns(ApiKey.id)
                .where(ApiKey.product_id == product.id, ApiKey.name == "test")
            )
            self.seed = Seed(
                product_id=product.id,
                api_key=key,
                api_key_id=str(key_id),
                spare_key_id=str(spare_row.id),
                other_product_id=other.id,
                campaign_ids=[str(c.id) for c in campaigns],
                endpoint_ids=[str(endpoint.id)],
                member_wallet=member,
                token=self.token,
            )

    def heal(self) -> None:
        """Undo deletions of the seeded product and its key, so later examples still reach them."""
        seed = self.seed

        async def restore(context: AppContext) -> None:
            async with context.sessions() as session:
                await session.execute(
                    update(Product)
                    .where(Product.id.in_([seed.product_id, seed.other_product_id]))
                    .values(deleted_at=None)
                )
                await session.execute(
                    update(ApiKey).where(ApiKey.id == seed.api_key_id).values(revoked_at=None)
                )
                await session.commit()

        self.run(restore)


def fuzz_config(seed: Seed, *, max_examples: int = MAX_EXAMPLES) -> SchemathesisConfig:
    """Both generation modes, the three checks of issue 13, seeded path parameters."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 13,
            "dictionaries": {
                "products": {"values": [seed.product_id, seed.other_product_id]},
                "campaigns": {"values": seed.campaign_ids},
                "endpoints": {"values": seed.endpoint_ids},
                "keys": {"values": [seed.spare_key_id]},
                "members": {"values": [seed.member_wallet]},
                "tokens": {"values": [seed.token]},
            },
            "parameters": {
                "path.product_id": {"dictionary": "products", "probability": 0.7},
                "path.campaign_id": {"dictionary": "campaigns", "probability": 0.7},
                "path.endpoint_id": {"dictionary": "endpoints", "probability": 0.7},
                "path.key_id": {"dictionary": "keys", "probability": 0.7},
                "path.wallet": {"dictionary": "members", "probability": 0.7},
                "path.address": {"dictionary": "members", "probability": 0.5},
                "body.product_id": {"dictionary": "products", "probability": 0.7},
                "body.token": {"dictionary": "tokens", "probability": 0.7},
                "body.address": {"dictionary": "tokens", "probability": 0.5},
                "body.wallet": {"dictionary": "members", "probability": 0.5},
            },
            "generation": {"mode": "all", "max-examples": max_examples},
            "operations": [
                {
                    # A readiness probe answers 503 by design while a dependency lags
                    # (here: the indexer never runs); that is its job, not a crash.
                    "include-path": "/health/ready",
                    "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "4xx", "503"]}},
                }
            ],
        }
    )
    return config


@pytest.fixture(scope="module")
def world(settings: Settings, database_url: str, rpc_url: str) -> Iterator[World]:
    with World(settings, database_url, rpc_url) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def fuzz_app(database_url: str, rpc_url: str, world: World) -> Iterator[Any]:
    app = create_app(world.settings, database_url=database_url, rpc_url=rpc_url)
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any, world: World) -> Any:
    return schemathesis.openapi.from_asgi(SCHEMA_PATH, fuzz_app, config=fuzz_config(world.seed))
