"""`cascade demo`: the whole flow on embedded defaults, checked, then served."""

from __future__ import annotations

import os
import sys

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import fail, step, story
from backend.core.logs import configure_logging


@click.command("demo")
@click.option(
    "--no-serve", is_flag=True, help="run the story and exit (0 only if every check held)"
)
@click.option(
    "--port", type=int, default=None, help="API port (default: PORT or 8000; 0: a free one)"
)
@click.option(
    "--verbose", is_flag=True, help="also log (requests, jobs) on stderr; LOG_LEVEL does too"
)
@handles_config_errors
def demo(no_serve: bool, port: int | None, verbose: bool) -> None:
    """Play the mission end to end on fresh embedded PostgreSQL and anvil (under DATA_DIR/demo).

    The story goes to stdout alone; logs stay quiet (warnings and errors only) unless
    asked for with --verbose or LOG_LEVEL.
    """
    from backend.demo.run import run_demo
    from backend.runtime.anvil import free_port

    settings = get_settings()
    if not verbose and "LOG_LEVEL" not in os.environ:
        configure_logging(settings.log_format, "WARNING")
    chosen = settings.port if port is None else port
    if chosen == 0 or not _port_free(chosen):
        if chosen:
            step(f"port {chosen} is busy; using a free one")
        chosen = free_port()
    result = run_demo(settings, serve=not no_serve, port=chosen, say=story)
    if result.failures:
        for failure in result.failures:
            fail(failure)
        sys.exit(1)
    story("every check held")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
