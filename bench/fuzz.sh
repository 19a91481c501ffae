#!/usr/bin/env bash
# The schemathesis suite (tests/fuzz) with more examples per operation than `make test`
# runs, then a summary: operations, requests by generation mode and status class,
# failures. Same checks: not_a_server_error, response_schema_conformance,
# negative_data_rejection; authenticated (a real API key) and anonymous.
#
# Usage: bench/fuzz.sh [EXAMPLES]      (default 100; `make test` uses 8)
# Extra pytest arguments may follow EXAMPLES, e.g. bench/fuzz.sh 200 -x
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/contracts/node_modules/.bin:$PATH"

examples="${1:-100}"
shift || true
report="$(mktemp -t cascade-fuzz-XXXXXX.json)"
log="$(mktemp -t cascade-fuzz-XXXXXX.log)"
trap 'rm -f "$report"' EXIT

echo "==> schemathesis: $examples examples per operation and mode (log: $log)"
start=$(date +%s)
FUZZ_MAX_EXAMPLES="$examples" FUZZ_REPORT="$report" \
    .venv/bin/python -m pytest tests/fuzz -q -p no:ape_test -o addopts="-p no:cacheprovider" \
    --timeout=0 "$@" >"$log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))

.venv/bin/python - "$report" "$log" "$elapsed" "$examples" <<'PY'
import json
import re
import sys
from pathlib import Path

report_path, log_path, elapsed, examples = sys.argv[1:5]
text = Path(log_path).read_text()
failed = sorted(set(re.findall(r"^SUBFAILED (\S+\[.*?\])", text, re.MULTILINE)))
try:
    report = json.loads(Path(report_path).read_text())
except (OSError, ValueError):
    report = {"operations": 0, "requests": 0, "by_mode_and_status": {}}
print(f"examples per operation: {examples} (max, per generation mode)")
print(f"operations exercised:   {report['operations']}")
print(f"requests checked:       {report['requests']}")
for key, count in report["by_mode_and_status"].items():
    print(f"  {key:<14} {count}")
print(f"failing operations:     {len(failed)}")
for name in failed:
    print(f"  {name}")
print(f"wall time:              {elapsed} s")
PY
exit "$status"
