"""`cascade config`: the effective configuration, secrets masked."""

from __future__ import annotations

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import emit_json


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="print as one JSON object")
@handles_config_errors
def config(as_json: bool) -> None:
    """Print the effective configuration (secrets masked)."""
    settings = get_settings()
    described = settings.describe()
    if as_json:
        emit_json(described)
        return
    width = max(len(name) for name in described)
    for name, value in described.items():
        shown = "(unset)" if value in (None, [], "") else value
        click.echo(f"{name:<{width}}  {shown}")
