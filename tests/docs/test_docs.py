"""The docs say what the code does: commands, paths, links, settings, API, contracts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend.api.openapi_doc import current_schema, render
from backend.chain.artifacts import load_artifact
from backend.cli.main import cli
from backend.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))


def test_api_md__is_what_the_app_serves():
    assert (ROOT / "docs" / "api.md").read_text() == render(current_schema()), (
        "docs/api.md is stale: python -m backend.api.openapi_doc > docs/api.md"
    )


def test_readme__shows_the_two_commands():
    assert "make demo" in README and "make test" in README


def _command_rows() -> list[str]:
    section = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| (`cascade [^|]+?) \|", section, flags=re.M)


@pytest.mark.parametrize("row", _command_rows())
def test_readme_command__exists_with_its_options(row: str):
    parts = [part.strip("` ") for part in row.split(" / ")]
    group = parts[0].split()[:2]  # `cascade db upgrade` / `downgrade`: same group
    for index, usage in enumerate(parts):
        if index:
            usage = " ".join(group) + " " + usage
        words = [w for w in re.split(r"\s+", usage.replace("cascade ", "", 1)) if w]
        command = [w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)]
        options = {m for m in re.findall(r"--[a-z-]+", usage)}
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, (usage, result.output)
        for option in options:
            assert option in result.output, (usage, option)


def test_readme_repository_map__paths_exist():
    block = README.split("## Repository map", 1)[1].split("```", 2)[1]
    for line in block.splitlines():
        line = line.split("  ", 1)[0].strip() if not line.startswith("  ") else line.strip()
        for name in re.findall(r"([a-z][a-z_-]*/)", line.split("   ")[0]):
            top = ROOT / name
            nested = ROOT / "backend" / name
            assert top.is_dir() or nested.is_dir(), name


@pytest.mark.parametrize("doc", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_relative_links__resolve(doc: Path):
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_readme_variables__are_read_by_the_code_and_settings_are_documented():
    code = "\n".join(
        p.read_text() for base in ("backend", "indexer") for p in (ROOT / base).rglob("*.py")
    )
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", README.split("## Configuration")[1]))
    documented -= {"JSON", "RPC"}
    for name in documented:
        field = name.lower()
        unprefixed = name.split("_", 1)[1].lower() if "_" in name else field
        known = (
            field in Settings.model_fields
            or f'"{name}"' in code  # read with os.environ
            or f"    {field}:" in code  # a field of a pydantic settings class
            or (name.startswith("SETTLEMENT_") and f"    {unprefixed}:" in code)  # env_prefix
        )
        assert known, f"README documents {name}, which no code reads"
    for field in Settings.model_fields:
        assert field.upper() in README, f"setting {field.upper()} is not in the README"


def test_contracts_md__names_every_function_and_event():
    text = (ROOT / "docs" / "contracts.md").read_text()
    for name in ("MultiTokenPushPull", "ProductBank", "ProductBankFactory"):
        for entry in load_artifact(name).abi:
            if entry["type"] in ("function", "event"):
                assert entry["name"] in text, f"{name}.{entry['name']} is not in docs/contracts.md"
