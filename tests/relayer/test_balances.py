"""GET /api/wallet/{wallet}/balances: what the wallet holds in Cascade products' tokens."""

from __future__ import annotations

import httpx

from backend.chain import contract, send
from backend.core.context import AppContext
from tests.factories import make_token, wallet
from tests.relayer.conftest import KEY, TOKENS, Env


async def test_balances__erc20_balance_of_product_tokens_and_no_code(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    holder = wallet()
    async with ctx.sessions() as session:
        await make_token(session, env.product, env.token)
        await make_token(session, env.product, "0x" + "ab" * 20)  # registered, no code: left out
    send(env.w3, KEY, contract(env.w3, "MockERC20", env.token).functions.mint(holder, 5 * TOKENS))

    response = await api.get(f"/api/wallet/{holder.lower()}/balances")

    assert response.status_code == 200
    assert response.json() == {
        "wallet": holder,
        "account_deployed": False,
        "tokens": [
            {"token": env.token, "symbol": "TST", "decimals": 18, "balance": str(5 * TOKENS)}
        ],
    }


async def test_balances__a_contract_wallet__account_deployed(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    response = await api.get(f"/api/wallet/{env.bank}/balances")
    assert response.status_code == 200 and response.json()["account_deployed"] is True


async def test_balances__malformed_address__422(env: Env, api: httpx.AsyncClient):
    response = await api.get("/api/wallet/0x1234/balances")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_address"
