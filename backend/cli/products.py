"""`cascade products ...`: create a product (and its first API key) from the terminal.

The CLI acts as CLI_PRINCIPAL: it may create a product for any owner wallet,
which the business API only allows to that wallet's own dashboard session.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, emit_json, fail, step
from backend.cli.serve import prepare_database
from backend.core.db import create_engine, session_factory
from backend.core.errors import DomainError
from backend.runtime.services import embedded_services


@click.group()
def products() -> None:
    """Products of the business API."""


@products.command("create")
@click.option("--name", required=True, help="display name")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    required=True,
    help="a domain of the product; the first is primary (the product id derives from it)",
)
@click.option("--owner", required=True, help="owner wallet (0x...): owns the bank, every role")
@click.option("--json", "as_json", is_flag=True, help="print {product_id, api_key} as JSON")
@handles_config_errors
def create(name: str, domains: tuple[str, ...], owner: str, as_json: bool) -> None:
    """Create a product and print its id and first API key (shown once)."""
    import msgspec

    from backend.products.schemas import ProductCreate

    settings = get_settings()
    try:
        data = msgspec.convert(
            {"name": name, "domains": list(domains), "owner": owner}, ProductCreate
        )
    except msgspec.ValidationError as exc:
        fail(f"invalid input: {exc}")
        raise SystemExit(2) from None
    with embedded_services(settings, need_chain=False) as endpoints:
        step("creating product")
        try:
            result = asyncio.run(_create(settings, endpoints.database_url, data))
        except DomainError as exc:
            fail(f"{exc.message} ({exc.code})")
            raise SystemExit(1) from None
    if as_json:
        emit_json(result)
        return
    done(f"product {result['product_id']} created")
    click.echo(f"product_id: {result['product_id']}")
    click.echo(f"api_key:    {result['api_key']}  (shown once; store it now)")


async def _create(settings: Any, database_url: str, data: Any) -> dict[str, str]:
    from backend.products.authorization import CLI_PRINCIPAL
    from backend.products.service import create_product

    await prepare_database(settings, database_url)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            product, key = await create_product(session, CLI_PRINCIPAL, data)
        return {"product_id": product.id, "api_key": key}
    finally:
        await engine.dispose()
