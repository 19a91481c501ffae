"""Regenerate docs/screenshots/*.png: `python -m tests.dashboard.screenshots`.

Runs the screenshot test (embedded PostgreSQL, anvil, headless Chromium) with
its output pointed at docs/screenshots instead of test-output/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    os.environ["CASCADE_SCREENSHOT_DIR"] = str(ROOT / "docs" / "screenshots")
    bin_dirs = [ROOT / "contracts" / "node_modules" / ".bin", ROOT / ".venv" / "bin"]
    os.environ["PATH"] = os.pathsep.join([*map(str, bin_dirs), os.environ.get("PATH", "")])
    test = ROOT / "tests" / "dashboard" / "test_screenshots.py"
    return int(pytest.main(["-q", "-p", "no:ape_test", str(test)]))


if __name__ == "__main__":
    sys.exit(main())
