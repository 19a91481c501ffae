#!/usr/bin/env bash
# Runs the whole pytest suite in two invocations, because ape's pytest plugin
# (loaded from its entry point) starts its own anvil and snapshots the chain
# around every test once anything is collected:
#   1. tests/contracts with ape (anvil on a random port, see ape-config.yaml);
#   2. everything else with the ape plugin disabled (`-p no:ape_test`).
# Extra arguments go to both. Exit code 5 ("no tests collected") is not a
# failure of the suite.
set -uo pipefail
cd "$(dirname "$0")/.."
# ape-vyper runs `vyper` and ape-foundry runs `anvil` from PATH.
export PATH="$PWD/.venv/bin:$PWD/contracts/node_modules/.bin:$PATH"

status=0
run() {
    .venv/bin/python -m pytest "$@"
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then status=$rc; fi
}

run tests/contracts "$@"
run -p no:ape_test --ignore=tests/contracts "$@"
exit "$status"
