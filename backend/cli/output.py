"""How CLI commands talk to the operator: one style for progress and results."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def step(message: str) -> None:
    """A progress line on stderr, so stdout stays clean for --json output."""
    click.echo(click.style("==> ", fg="cyan", bold=True) + message, err=True)


def story(message: str) -> None:
    """A line of a story the command tells (the demo) on stdout: the output itself."""
    click.echo(click.style("==> ", fg="cyan", bold=True) + message)


def done(message: str) -> None:
    click.echo(click.style("ok  ", fg="green", bold=True) + message, err=True)


def fail(message: str) -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
