"""Entry point of the `cascade` console script: one group, a module per command family."""

from __future__ import annotations

import click

import backend.models  # noqa: F401 - every table in the metadata: cross-domain foreign keys resolve
from backend.cli.chain import chain
from backend.cli.config_cmd import config
from backend.cli.db import db
from backend.cli.demo import demo
from backend.cli.index import index
from backend.cli.products import products
from backend.cli.serve import serve
from backend.cli.settlement import push, reconcile


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Cascade: rewards backend with on-chain settlement."""


for command in (serve, demo, db, config, chain, push, reconcile, index, products):
    cli.add_command(command)
