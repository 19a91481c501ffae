"""Every 422 has one details shape, {"field", "problem"}, whoever refused the input."""

from __future__ import annotations

import json

from litestar.exceptions import ValidationException

from backend.api.errors import validation_error_handler
from backend.core import errors
from backend.interactions import values
from backend.products import validation


def test_invalid__names_the_field_in_message_and_details():
    exc = errors.invalid("budget_cap", "must be >= used_budget")

    assert (exc.status_code, exc.code) == (422, "validation_error")
    assert exc.message == "budget_cap: must be >= used_budget"
    assert exc.details == {"field": "budget_cap", "problem": "must be >= used_budget"}


def test_invalid__is_the_one_helper_every_domain_raises():
    assert values.invalid is errors.invalid and validation.invalid is errors.invalid


def test_schema_error__answered_with_the_same_details_shape():
    exc = ValidationException(
        detail="Validation failed for POST /x",
        extra=[{"message": "Expected `int`, got `str`", "key": "user_bps", "source": "body"}],
    )

    response = validation_error_handler(None, exc)  # type: ignore[arg-type]

    body = json.loads(response.render(response.content, "application/json"))
    assert response.status_code == 422
    assert body["error"]["details"] == {"field": "user_bps", "problem": "Expected `int`, got `str`"}
    assert body["error"]["message"] == "user_bps: Expected `int`, got `str`"
