"""Setup never rewrites a tracked file: npm installs from the lockfiles as they are."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["contracts", "sdk-js"])
def test_lockfile__holds_every_optional_platform_package_npm_would_add(folder: str) -> None:
    """npm install adds each optional dependency (anvil's per-platform builds) to the
    lockfile, installed here or not; one missing means a rewritten tracked file."""
    packages = json.loads((ROOT / folder / "package-lock.json").read_text())["packages"]
    missing = [
        name
        for entry in packages.values()
        for name in entry.get("optionalDependencies", {})
        if f"node_modules/{name}" not in packages
    ]
    assert not missing, f"{folder}/package-lock.json lacks {missing}: run npm install, commit it"


def test_makefile__installs_npm_packages_with_npm_ci() -> None:
    """`npm ci` installs the lockfile exactly and never writes it; `npm install` may."""
    makefile = (ROOT / "Makefile").read_text()
    installs = re.findall(r"\$\(NPM\) (\w+)", makefile)
    assert installs and set(installs) == {"ci"}, installs
