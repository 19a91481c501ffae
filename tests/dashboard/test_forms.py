"""The one way a dashboard form's action is tried: its result, or its refusal rolled back."""

from __future__ import annotations

from sqlalchemy import select

from backend.core.errors import Conflict, InvalidInput
from backend.dashboard.forms import Refused, attempt, convert
from backend.products import schemas as s
from backend.products.models import Product
from tests.factories import make_product


async def _name(db_session, product_id: str) -> str:
    db_session.expire_all()
    return await db_session.scalar(select(Product.name).where(Product.id == product_id))


async def test_attempt__service_refusal__rolled_back_and_shown_on_its_field(db_session):
    product, _ = await make_product(db_session, name="Before")
    product_id = product.id

    async def rename() -> None:
        product.name = "After"
        await db_session.flush()
        raise InvalidInput("too long", details={"field": "name", "problem": "at most 80"})

    refused = await attempt(db_session, rename)

    assert refused == Refused({"name": "at most 80"}, 422)
    assert await _name(db_session, product_id) == "Before"


async def test_attempt__conflict__keeps_its_status_for_the_page_to_choose(db_session):
    async def stale() -> None:
        raise Conflict("edited meanwhile")

    assert await attempt(db_session, stale) == Refused({"form": "edited meanwhile"}, 409)


async def test_attempt__form_that_does_not_convert__422_on_the_field(db_session):
    async def bad_form() -> None:
        convert({"name": "", "domains": []}, s.ProductCreate)

    refused = await attempt(db_session, bad_form)

    assert isinstance(refused, Refused) and refused.status == 422 and refused.errors


async def test_attempt__accepted__returns_what_the_action_returned(db_session):
    async def fine() -> int:
        return 7

    assert await attempt(db_session, fine) == 7
