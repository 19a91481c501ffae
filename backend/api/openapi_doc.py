"""Render docs/api.md from the app's own OpenAPI schema, so the API doc cannot drift.

`python -m backend.api.openapi_doc > docs/api.md` regenerates it; a test fails
when the committed file differs from what the code serves.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")

INTRO = """\
# Cascade API

Generated from the OpenAPI schema the app serves at `/schema/openapi.json`
(browsable at `/schema`) by `python -m backend.api.openapi_doc > docs/api.md`;
a test keeps this file equal to what the code serves.

Conventions:

- Amounts are token base units as **decimal strings** (`"10000000000000000000"`
  is 10 tokens of an 18-decimal token); wallets are checksummed addresses.
- Every error is `{"error": {"code": "…", "message": "…", "details": …}}` with a
  stable `code`; bad input is 4xx and writes nothing; a database restart is a
  clean `503 database_unavailable` with `Retry-After`.
- The business API takes `Authorization: Bearer <api key>` (one product, a role
  bitmask: 1 admin, 2 campaign manager, 4 interaction manager) or the
  dashboard's passkey session cookie. Another product's key gets 404, a missing
  role 403.
- Every creating `POST` accepts `Idempotency-Key`: the same key and body replay
  the stored response for 24 h; a different body is `422 idempotency_key_mismatch`.

## Examples

Create a product from the CLI (the API key is shown once):

```sh
cascade products create --name "My shop" --domain shop.example --owner 0xOwner… --json
```

Deploy its bank, register a token, create and activate a campaign:

```sh
curl -X POST $API/api/business/products/$PRODUCT/bank -H "Authorization: Bearer $KEY"
curl -X POST $API/api/business/products/$PRODUCT/tokens -H "Authorization: Bearer $KEY" \\
     -H 'Content-Type: application/json' -d '{"address": "0xToken…"}'
curl -X POST $API/api/business/products/$PRODUCT/campaigns -H "Authorization: Bearer $KEY" \\
     -H 'Content-Type: application/json' -H 'Idempotency-Key: campaign-1' -d '{
       "name": "purchase after referral", "trigger": "purchase.completed",
       "token": "0xToken…", "reward": {"type": "fixed", "amount": "10000000000000000000"},
       "user_bps": 5000, "decay_bps": 8000, "max_depth": 5, "requires_referral": true,
       "budget_cap": "1000000000000000000000"}'
curl -X POST $API/api/business/campaigns/$CAMPAIGN/activate -H "Authorization: Bearer $KEY"
```

Send an interaction from a trusted server. It is stored and answered at once
(`202 {"interaction_id", "duplicate", "evaluated": false, "rewards": []}`); the
evaluator pays it off the request path, typically within 100 ms (measured at a steady
1,000 interactions/s on 2 cores: p50 ~50 ms, p99 ~85 ms; the evaluator gathers a
trickle into a batch for 50 ms; docs/benchmarks.md). A client that wants the rewards
in the answer sends `Prefer: wait=N` (at most 10 s): the answer comes when
evaluation is done (`evaluated: true`, `Preference-Applied: wait=N`), or after
N seconds with `evaluated: false`. Browsers see new rewards through the wallet
stream (`/api/wallet/{address}/stream`).

```sh
curl -X POST $API/api/external/interactions -H "Authorization: Bearer $KEY" \\
     -H 'Prefer: wait=5' -H 'Content-Type: application/json' -d '{
       "product_id": "'$PRODUCT'", "wallet": "0xBob…", "type": "purchase.started",
       "data": {"order_id": "1001"}}'
```

Read what a wallet can claim:

```sh
curl $API/api/wallet/0xBob…/rewards
```
"""


def render(schema: dict[str, Any]) -> str:
    by_tag: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for path, operations in schema.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            summary = (operation.get("summary") or "").replace("|", "\\|")
            by_tag[tag].append((path, method.upper(), summary))
    lines = [INTRO, "## Operations", ""]
    for tag in sorted(by_tag):
        lines += [f"### {tag}", "", "| method | path | what it does |", "|---|---|---|"]
        for path, method, summary in sorted(by_tag[tag]):
            lines.append(f"| {method} | `{path}` | {summary} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def current_schema() -> dict[str, Any]:
    """The schema of an app built on placeholder URLs (building it connects to nothing)."""
    from backend.api.app import create_app
    from backend.core.config import load_settings

    app = create_app(
        load_settings(), database_url="postgresql+asyncpg://docs@/docs", rpc_url="http://docs"
    )
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return schema


if __name__ == "__main__":
    sys.stdout.write(render(current_schema()))
