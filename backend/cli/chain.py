"""`cascade chain ...`: the local chain and contract deployment."""

from __future__ import annotations

import signal
import time

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, step
from backend.runtime.anvil import EmbeddedAnvil


@click.group()
def chain() -> None:
    """Local chain and contracts."""


@chain.command("up")
@click.option("--port", type=int, default=None, help="port to listen on (default: a free one)")
@handles_config_errors
def chain_up(port: int | None) -> None:
    """Start a local anvil chain, print its URL, run until Ctrl-C."""
    settings = get_settings()
    step("starting anvil (npm @foundry-rs/anvil)")
    anvil = EmbeddedAnvil(chain_id=settings.chain_id or 31337, port=port)
    url = anvil.start()
    done(f"local chain listening at {url} (chain id {anvil.chain_id})")
    click.echo(url)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and anvil.process is not None and anvil.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        step("stopping anvil")
        anvil.stop()
