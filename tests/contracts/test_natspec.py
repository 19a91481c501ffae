"""Every shipped contract documents itself: a `@dev` line for each event, a `@param` for each
argument of each external function, and a pragma pinning the exact compiler."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SHIPPED = sorted([*CONTRACTS.glob("*.vy"), *(CONTRACTS / "modules").glob("*.vy")])
EVERY_SOURCE = sorted(
    p for p in CONTRACTS.rglob("*.vy*") if "node_modules" not in p.parts and p.suffix != ".json"
)
VYPER_VERSION = "0.4.3"  # ape-config.yaml `vyper.version`, the pip-installed compiler


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CONTRACTS)) for p in paths]


def undocumented_events(source: str) -> list[str]:
    """Events whose comment block right above lacks a `# @dev` line."""
    lines = source.splitlines()
    missing = []
    for number, line in enumerate(lines):
        match = re.match(r"event (\w+):", line)
        if not match:
            continue
        above = []
        for previous in reversed(lines[:number]):
            if not previous.startswith("#"):
                break
            above.append(previous)
        if not any(comment.startswith("# @dev ") for comment in above):
            missing.append(match.group(1))
    return missing


def undocumented_params(source: str) -> list[str]:
    """`function(argument)` for each external argument without `@param argument`."""
    missing = []
    pattern = re.compile(
        r"@external\n(?:@\w+(?:\(.*\))?\n)*def (\w+)\((.*?)\)[^:]*:\n\s*(\"\"\"(.*?)\"\"\")?",
        re.S,
    )
    for match in pattern.finditer(source):
        name, arguments, docstring = match.group(1), match.group(2), match.group(4) or ""
        for argument in re.findall(r"(\w+)\s*:", arguments):
            if not re.search(rf"@param {argument}\b", docstring):
                missing.append(f"{name}({argument})")
    return missing


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_contract__every_event_has_a_dev_line(path: Path) -> None:
    assert undocumented_events(path.read_text()) == []


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_contract__every_external_argument_has_a_param_line(path: Path) -> None:
    assert undocumented_params(path.read_text()) == []


@pytest.mark.parametrize("path", EVERY_SOURCE, ids=_ids(EVERY_SOURCE))
def test_source__pins_the_exact_compiler_version(path: Path) -> None:
    pragmas = re.findall(r"^# pragma version (.+)$", path.read_text(), re.M)
    assert pragmas == [VYPER_VERSION]


def test_checks__see_what_they_look_for() -> None:
    """The checks themselves, on a small source: each can fail."""
    source = (
        "# @dev Emitted on x.\nevent Done:\n    a: uint256\n\n"
        "event Bare:\n    a: uint256\n\n"
        '@external\n@nonreentrant\ndef f(a: uint256, b: address):\n    """\n'
        '    @param a The a.\n    """\n    pass\n'
    )
    assert undocumented_events(source) == ["Bare"]
    assert undocumented_params(source) == ["f(b)"]
