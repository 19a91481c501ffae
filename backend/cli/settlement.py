"""`cascade push` and `cascade reconcile`: the settlement job and its proof, by hand."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, emit_json, fail, step
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.runtime.services import embedded_services


async def _with_context(settings: Settings, database_url: str, rpc_url: str, fn: Any) -> Any:
    ctx = AppContext(settings, database_url, rpc_url)
    try:
        return await fn(ctx)
    finally:
        await ctx.close()


@click.command("push")
@click.option(
    "--once", is_flag=True, help="run one cycle and exit (default: every PUSH_INTERVAL_S)"
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@handles_config_errors
def push(once: bool, as_json: bool) -> None:
    """Settle pending rewards on-chain: recover, batch, sign, send, confirm."""
    from backend.settlement.job import push_once

    settings = get_settings()
    report = None
    if not once:
        # Stop cleanly on Ctrl-C and on a service manager's SIGTERM, even when started
        # with SIGINT ignored (a background job inherits that, and Python then never
        # raises KeyboardInterrupt).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    with embedded_services(settings) as endpoints:
        while True:
            try:
                report = asyncio.run(
                    _with_context(settings, endpoints.database_url, endpoints.rpc_url, push_once)
                )
            except KeyboardInterrupt:
                break
            except Exception as exc:
                if once:
                    raise
                # a database or node outage must not end the pusher: the next cycle's
                # recovery resumes wherever this one stopped
                fail(
                    f"push cycle failed, retrying in {settings.push_interval_s}s: "
                    f"{type(exc).__name__}: {exc}"[:500]
                )
            else:
                if as_json:
                    emit_json(report.as_dict())
                else:
                    _print_report(report.as_dict())
            if once:
                break
            try:
                asyncio.run(asyncio.sleep(settings.push_interval_s))
            except KeyboardInterrupt:
                break
    if report is not None and (report.errors or report.halted_banks):
        raise SystemExit(1)


def _print_report(report: dict[str, Any]) -> None:
    done(
        f"batches created {report['batches_created']} ({report['rewards_batched']} rewards), "
        f"pushed {report['batches_pushed']} ({report['rewards_pushed']} rewards), "
        f"gas {report['gas_used']}"
    )
    for tx_hash in report["tx_hashes"]:
        click.echo(f"sent      {tx_hash}")
    for tx_hash in report["rebroadcast"]:
        click.echo(f"re-sent   {tx_hash}")
    for tx_hash in report["replaced"]:
        click.echo(f"replaced  {tx_hash}")
    for name in ("voided", "failed", "reorged"):
        if report[name]:
            click.echo(f"{name:<9} {report[name]} batch(es)")
    for bank in report["halted_banks"]:
        fail(f"halted: signer is not a distributor of bank {bank}")
    for error in report["errors"]:
        fail(error)


@click.command("reconcile")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@handles_config_errors
def reconcile(as_json: bool) -> None:
    """Compare pushed rewards with on-chain RewardAdded per (token, wallet); exit 1 on mismatch."""
    from backend.settlement.reconcile import reconcile_and_alert as run_reconcile

    settings = get_settings()
    with embedded_services(settings) as endpoints:
        step("reconciling pushed rewards with the chain")
        report = asyncio.run(
            _with_context(settings, endpoints.database_url, endpoints.rpc_url, run_reconcile)
        )
    if as_json:
        emit_json(report.as_dict())
    else:
        for m in report.mismatches:
            click.echo(
                f"MISMATCH token={m.token} wallet={m.wallet} db={m.database} chain={m.chain}"
            )
        in_flight = (
            f", {report.unrecorded_batches} confirmed push(es) not yet recorded counted"
            if report.unrecorded_batches
            else ""
        )
        done(
            f"{report.pairs} (token, wallet) pairs checked up to block {report.to_block} "
            f"({report.source}{in_flight}): {len(report.mismatches)} mismatch(es)"
        )
    if report.mismatches:
        raise SystemExit(1)
