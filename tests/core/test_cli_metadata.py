"""A command run on its own knows every table: a foreign key into another domain's table
(settlement_transactions.relay_id -> relay_requests) resolves in `cascade push` too."""

from __future__ import annotations

import subprocess
import sys

from backend.models import metadata


def test_cli_process__metadata_holds_every_table():
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import backend.cli.main\n"
            "from backend.core.db import Base\n"
            "print(' '.join(sorted(Base.metadata.tables)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(listed.stdout.split()) == set(metadata.tables)
