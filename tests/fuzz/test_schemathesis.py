"""Every operation of the OpenAPI schema, with and without a real API key."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from tests.fuzz.conftest import Tally, World


@schemathesis.check
def negative_data_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """negative_data_rejection, with 413 counted as a refusal too: an invalid body that is
    also over MAX_BODY_BYTES is refused before anything reads it."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [not_a_server_error, response_schema_conformance, negative_data_refused]

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api__with_api_key__never_5xx_and_conforms(case: Any, world: World, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {world.seed.api_key}"}
    try:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
    finally:
        if case.method == "DELETE":  # the seeded product and key stay reachable
            world.heal()
    tally.record(case, response.status_code)


@schema.parametrize()
def test_api__anonymous__never_5xx_and_conforms(case: Any, tally: Tally) -> None:
    response = case.call_and_validate(checks=CHECKS)
    tally.record(case, response.status_code)
