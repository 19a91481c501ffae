"""Passkey-signed sends: the relayer pays, only the passkey authorises, the chain checks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import select
from web3.exceptions import ContractLogicError

from backend.accounts.webauthn import encode_auth, rp_id_hash
from backend.chain import contract, send
from backend.core.config import ANVIL_DEV_KEYS
from backend.core.context import AppContext
from backend.relayer.job import track_relays
from backend.relayer.models import RelayCharge, RelayRequest, SendOperation
from backend.relayer.relay import RelayerEnv
from backend.settlement.models import SettlementTransaction as Tx
from tests.auth.authenticator import from_b64url
from tests.factories import make_token, wallet
from tests.relayer.conftest import (
    KEY,
    SIGNER,
    TOKENS,
    BrowserAuthenticator,
    Env,
    assertion,
    bearer,
    configure,
    erc20_balance,
    passkey_wallet,
)

ANYONE = ANVIL_DEV_KEYS[1]  # not the relayer: relaying is permissionless


async def holding(
    env: Env, api: httpx.AsyncClient, authenticator: BrowserAuthenticator, amount: int
):
    """A passkey-only wallet holding `amount` of the product's token (not yet deployed)."""
    async with env.ctx.sessions() as session:
        await make_token(session, env.product, env.token)
    account, headers = await passkey_wallet(api, authenticator)
    send(env.w3, KEY, contract(env.w3, "MockERC20", env.token).functions.mint(account, amount))
    return account, headers


async def prepare(
    api: httpx.AsyncClient, headers: dict[str, str], token: str, to: str, amount: int
) -> dict[str, Any]:
    response = await api.post(
        "/api/wallet/send/prepare",
        json={"token": token, "to": to, "amount": str(amount)},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def relay_rows(ctx: AppContext) -> list[RelayRequest]:
    async with ctx.sessions() as session:
        return list(
            (await session.scalars(select(RelayRequest).order_by(RelayRequest.created_at))).all()
        )


async def relay_txs(ctx: AppContext) -> list[Tx]:
    async with ctx.sessions() as session:
        return list((await session.scalars(select(Tx).where(Tx.relay_id.is_not(None)))).all())


async def test_first_send__deploys_the_account_and_moves_the_tokens__relayer_pays(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv, authenticator
):
    account, headers = await holding(env, api, authenticator, 10 * TOKENS)
    friend = wallet()

    prepared = await prepare(api, headers, env.token, friend, 4 * TOKENS)

    assert prepared["account_deployed"] is False
    digest = bytes.fromhex(prepared["digest"][2:])
    assert from_b64url(prepared["challenge"]) == digest and len(prepared["challenge"]) == 43
    assert prepared["nonce"] == "0" and prepared["deadline"] > 0  # the account's first
    (call,) = prepared["calls"]
    assert call["target"] == env.token and call["value"] == "0"
    assert call["data"].startswith("0xa9059cbb")  # transfer(address,uint256)

    response = await api.post(
        "/api/wallet/send",
        json={
            "operation_id": prepared["operation_id"],
            "credential": assertion(authenticator, prepared["challenge"]),
        },
        headers=headers,
    )

    assert response.status_code == 202, response.text
    await track_relays(ctx, relayer_env)
    assert erc20_balance(env.w3, env.token, friend) == 4 * TOKENS
    assert erc20_balance(env.w3, env.token, account) == 6 * TOKENS
    assert env.w3.eth.get_code(account) != b""  # created in the same transaction
    assert env.w3.eth.get_balance(account) == 0  # the user paid no gas
    (relay,) = await relay_rows(ctx)
    assert (relay.kind, relay.status, relay.wallet) == ("send", "mined", account)
    assert relay.target == ctx.settings.account_factory_address  # createAndExecute
    assert relay.payload == {"token": env.token, "to": friend, "amount": str(4 * TOKENS)}
    assert env.w3.eth.get_transaction_receipt(relay.tx_hash)["from"] == SIGNER
    async with ctx.sessions() as session:
        assert (await session.scalars(select(RelayCharge))).all() == []  # no product pays sends

    balances = (await api.get(f"/api/wallet/{account}/balances")).json()
    assert balances["account_deployed"] is True
    assert {
        "token": env.token,
        "symbol": "TST",
        "decimals": 18,
        "balance": str(6 * TOKENS),
    } in balances["tokens"]


async def test_later_send__executes_on_the_deployed_account(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv, authenticator
):
    account, headers = await holding(env, api, authenticator, 10 * TOKENS)
    friend = wallet()
    for amount in (TOKENS, 2 * TOKENS):
        prepared = await prepare(api, headers, env.token, friend, amount)
        response = await api.post(
            "/api/wallet/send",
            json={
                "operation_id": prepared["operation_id"],
                "credential": assertion(authenticator, prepared["challenge"]),
            },
            headers=headers,
        )
        assert response.status_code == 202, response.text
        await track_relays(ctx, relayer_env)

    first, second = await relay_rows(ctx)
    assert first.target == ctx.settings.account_factory_address and second.target == account
    async with ctx.sessions() as session:
        nonces = await session.scalars(select(SendOperation.nonce).order_by(SendOperation.nonce))
        # numbered per account: the second send flips a bit of the word the first one wrote
        assert nonces.all() == [0, 1]
    assert (first.status, second.status) == ("mined", "mined")
    assert erc20_balance(env.w3, env.token, friend) == 3 * TOKENS


def send_anyway(env: Env, to: str, data: bytes) -> tuple[Any, str]:
    """Sign and broadcast from ANYONE without a gas estimate (which would refuse first):
    (the mined receipt, the revert reason read by replaying the call at its block)."""
    sender = Account.from_key(ANYONE)
    tx = {
        "chainId": 31337,
        "nonce": env.w3.eth.get_transaction_count(sender.address, "pending"),
        "to": to,
        "data": data,
        "value": 0,
        "gas": 1_000_000,
        "maxFeePerGas": 2 * env.w3.eth.get_block("latest")["baseFeePerGas"] + 1,
        "maxPriorityFeePerGas": 1,
    }
    tx_hash = env.w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    receipt = env.w3.eth.wait_for_transaction_receipt(tx_hash)
    try:
        env.w3.eth.call(
            {"from": sender.address, "to": to, "data": data}, receipt["blockNumber"] - 1
        )
    except ContractLogicError as exc:
        return receipt, str(exc.message)
    return receipt, ""


def _auth_for(authenticator: BrowserAuthenticator, challenge: str) -> bytes:
    """The account's auth bytes for an assertion over `challenge` (as the backend builds them)."""
    signed = assertion(authenticator, challenge)
    numbers = authenticator.credentials[-1].key.public_key().public_numbers()
    response = signed["response"]
    return encode_auth(
        from_b64url(response["authenticatorData"]),
        from_b64url(response["clientDataJSON"]),
        from_b64url(response["signature"]),
        numbers.x,
        numbers.y,
    )


def _operation_calldata(
    env: Env, ctx: AppContext, account: str, op: SendOperation, auth: bytes, authenticator
) -> tuple[str, bytes]:
    calls = [(c["target"], int(c["value"]), bytes.fromhex(c["data"][2:])) for c in op.calls]
    if env.w3.eth.get_code(account) != b"":
        target = contract(env.w3, "PasskeyAccount", account)
        data = target.encode_abi("execute", args=[calls, op.nonce, op.deadline, auth])
        return account, bytes.fromhex(data[2:])
    numbers = authenticator.credentials[-1].key.public_key().public_numbers()
    factory = contract(env.w3, "PasskeyAccountFactory", str(ctx.settings.account_factory_address))
    data = factory.encode_abi(
        "createAndExecute",
        args=[numbers.x, numbers.y, rp_id_hash("localhost"), 0, calls, op.nonce, op.deadline, auth],
    )
    return factory.address, bytes.fromhex(data[2:])


async def _operation(ctx: AppContext, operation_id: str) -> SendOperation:
    async with ctx.sessions() as session:
        op = await session.get(SendOperation, uuid.UUID(operation_id))
        assert op is not None
        return op


@pytest.mark.parametrize("deployed", [False, True], ids=["first_send", "later_send"])
async def test_forged_operation__refused_by_the_backend_and_reverted_on_chain(
    env: Env,
    ctx: AppContext,
    api: httpx.AsyncClient,
    relayer_env: RelayerEnv,
    authenticator,
    deployed: bool,
):
    account, headers = await holding(env, api, authenticator, 10 * TOKENS)
    if deployed:
        warmup = await prepare(api, headers, env.token, wallet(), 1)
        await api.post(
            "/api/wallet/send",
            json={
                "operation_id": warmup["operation_id"],
                "credential": assertion(authenticator, warmup["challenge"]),
            },
            headers=headers,
        )
        await track_relays(ctx, relayer_env)
        assert env.w3.eth.get_code(account) != b""
    thief = wallet()
    signed_for = await prepare(api, headers, env.token, wallet(), 1)  # what the user approved
    forged = await prepare(api, headers, env.token, thief, 9 * TOKENS)  # what an attacker wants
    before = await relay_rows(ctx)

    refused = await api.post(
        "/api/wallet/send",
        json={
            "operation_id": forged["operation_id"],
            "credential": assertion(authenticator, signed_for["challenge"]),
        },
        headers=headers,
    )

    assert refused.status_code == 401 and refused.json()["error"]["code"] == "passkey_rejected"
    assert [r.id for r in await relay_rows(ctx)] == [r.id for r in before]  # nothing relayed
    # Whoever sends it (here not even the relayer), the chain refuses the forgery.
    op = await _operation(ctx, forged["operation_id"])
    target, data = _operation_calldata(
        env, ctx, account, op, _auth_for(authenticator, signed_for["challenge"]), authenticator
    )
    receipt, reason = send_anyway(env, target, data)
    assert receipt["status"] == 0 and "account: bad auth" in reason
    assert erc20_balance(env.w3, env.token, thief) == 0


async def test_replayed_operation__relayed_once_and_reverted_on_chain(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv, authenticator
):
    account, headers = await holding(env, api, authenticator, 10 * TOKENS)
    friend = wallet()
    prepared = await prepare(api, headers, env.token, friend, 3 * TOKENS)
    body = {
        "operation_id": prepared["operation_id"],
        "credential": assertion(authenticator, prepared["challenge"]),
    }
    first = await api.post("/api/wallet/send", json=body, headers=headers)
    await track_relays(ctx, relayer_env)

    again = await api.post("/api/wallet/send", json=body, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["relay_id"] == first.json()["relay_id"]  # the same relay, no second tx
    assert len(await relay_txs(ctx)) == 1
    # The exact mined bytes sent again by anyone, and their execute() aimed at the account:
    # the account's nonce is spent, both revert.
    mined = env.w3.eth.get_transaction(first.json()["tx_hash"])
    for target, data in (
        (mined["to"], bytes(mined["input"])),
        (account, _replay_data(env, ctx, account, mined)),
    ):
        receipt, reason = send_anyway(env, target, data)
        assert receipt["status"] == 0 and "account: nonce used" in reason
    assert erc20_balance(env.w3, env.token, friend) == 3 * TOKENS
    assert erc20_balance(env.w3, env.token, account) == 7 * TOKENS


def _replay_data(env: Env, ctx: AppContext, account: str, mined: Any) -> bytes:
    """The first send went through the factory: its execute part, aimed at the account now."""
    factory = contract(env.w3, "PasskeyAccountFactory", str(ctx.settings.account_factory_address))
    _, args = factory.decode_function_input(bytes(mined["input"]))
    calls = [
        (c["target"], c["value"], c["data"]) if isinstance(c, dict) else tuple(c)
        for c in args["calls"]
    ]
    data = contract(env.w3, "PasskeyAccount", account).encode_abi(
        "execute", args=[calls, args["nonce"], args["deadline"], args["auth"]]
    )
    return bytes.fromhex(data[2:])


async def test_send__expired_operation__410_and_nothing_sent(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv, authenticator
):
    _, headers = await holding(env, api, authenticator, TOKENS)
    prepared = await prepare(api, headers, env.token, wallet(), TOKENS)
    later = relayer_env.clock() + timedelta(minutes=11)
    relayer_env.clock = lambda: later

    response = await api.post(
        "/api/wallet/send",
        json={
            "operation_id": prepared["operation_id"],
            "credential": assertion(authenticator, prepared["challenge"]),
        },
        headers=headers,
    )

    assert response.status_code == 410 and response.json()["error"]["code"] == "operation_expired"
    assert await relay_rows(ctx) == []


async def test_send__unknown_or_another_wallets_operation__404_operation_unknown(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, authenticator
):
    _, headers = await holding(env, api, authenticator, TOKENS)
    prepared = await prepare(api, headers, env.token, wallet(), TOKENS)
    _, stranger = await passkey_wallet(api, authenticator)
    for operation_id, who in (("not-an-id", headers), (prepared["operation_id"], stranger)):
        response = await api.post(
            "/api/wallet/send",
            json={
                "operation_id": operation_id,
                "credential": assertion(authenticator, prepared["challenge"]),
            },
            headers=who,
        )
        assert (
            response.status_code == 404 and response.json()["error"]["code"] == "operation_unknown"
        )
    assert await relay_rows(ctx) == []


async def test_send__a_passkey_of_another_account__401_passkey_rejected(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, authenticator
):
    _, headers = await holding(env, api, authenticator, TOKENS)
    prepared = await prepare(api, headers, env.token, wallet(), TOKENS)
    mine = authenticator.credentials[-1]
    await passkey_wallet(api, authenticator)  # another account's passkey, on the same device

    response = await api.post(
        "/api/wallet/send",
        json={
            "operation_id": prepared["operation_id"],
            "credential": assertion(authenticator, prepared["challenge"]),
        },
        headers=headers,
    )

    assert response.status_code == 401 and response.json()["error"]["code"] == "passkey_rejected"
    assert authenticator.credentials[-1] is not mine
    assert await relay_rows(ctx) == []


async def test_send__past_the_daily_limit__429_send_limit_reached(
    env: Env, ctx: AppContext, api: httpx.AsyncClient, relayer_env: RelayerEnv, authenticator
):
    configure(ctx, relayer_sends_per_wallet_per_day=1)
    _, headers = await holding(env, api, authenticator, 10 * TOKENS)
    first = await prepare(api, headers, env.token, wallet(), TOKENS)
    second = await prepare(api, headers, env.token, wallet(), TOKENS)
    ok = await api.post(
        "/api/wallet/send",
        json={
            "operation_id": first["operation_id"],
            "credential": assertion(authenticator, first["challenge"]),
        },
        headers=headers,
    )
    assert ok.status_code == 202
    nonce = env.w3.eth.get_transaction_count(SIGNER, "pending")

    refused = await api.post(
        "/api/wallet/send",
        json={
            "operation_id": second["operation_id"],
            "credential": assertion(authenticator, second["challenge"]),
        },
        headers=headers,
    )

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "send_limit_reached"
    assert len(await relay_rows(ctx)) == 1
    assert env.w3.eth.get_transaction_count(SIGNER, "pending") == nonce
    later = await api.post(
        "/api/wallet/send/prepare",
        json={"token": env.token, "to": wallet(), "amount": "1"},
        headers=headers,
    )
    assert later.status_code == 429  # refused up front too


async def test_prepare__an_eoa_wallet__409_not_a_passkey_account(
    env: Env, ctx: AppContext, api: httpx.AsyncClient
):
    from backend.auth.models import WalletLink

    eoa = wallet()
    async with ctx.sessions() as session:
        session.add(WalletLink(wallet=eoa, user_handle=b"h" * 32, proof="eip191"))
        await session.commit()
    response = await api.post(
        "/api/wallet/send/prepare",
        json={"token": env.token, "to": wallet(), "amount": "1"},
        headers=await bearer(ctx, eoa),
    )
    assert (
        response.status_code == 409 and response.json()["error"]["code"] == "not_a_passkey_account"
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": str(2 * TOKENS)}, "insufficient_balance"),
        ({"token": "0x" + "ab" * 20}, "unknown_token"),
        ({"to": "0x" + "00" * 20}, "invalid_recipient"),
        ({"amount": "0"}, "invalid_amount"),
    ],
)
async def test_prepare__bad_send__422_and_no_operation(
    env: Env,
    ctx: AppContext,
    api: httpx.AsyncClient,
    authenticator,
    change: dict[str, str],
    code: str,
):
    _, headers = await holding(env, api, authenticator, TOKENS)
    body = {"token": env.token, "to": wallet(), "amount": str(TOKENS), **change}
    response = await api.post("/api/wallet/send/prepare", json=body, headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == code
    async with ctx.sessions() as session:
        assert (await session.scalars(select(SendOperation))).all() == []


async def test_send__crash_after_the_transaction_is_stored__sent_once_by_the_tracker(
    env: Env,
    ctx: AppContext,
    api: httpx.AsyncClient,
    relayer_env: RelayerEnv,
    authenticator,
    monkeypatch: pytest.MonkeyPatch,
):
    from backend.relayer import sends
    from tests.settlement.helpers import SimulatedCrash, crash_at

    account, headers = await holding(env, api, authenticator, 5 * TOKENS)
    friend = wallet()
    prepared = await prepare(api, headers, env.token, friend, 2 * TOKENS)
    credential = assertion(authenticator, prepared["challenge"])
    crash_at(monkeypatch, "tx_stored")
    with pytest.raises(SimulatedCrash):
        await sends.send(relayer_env, account, prepared["operation_id"], credential)
    monkeypatch.undo()
    (stored,) = await relay_txs(ctx)

    again = await api.post(
        "/api/wallet/send",
        json={"operation_id": prepared["operation_id"], "credential": credential},
        headers=headers,
    )
    await track_relays(ctx, relayer_env)  # re-broadcasts the stored bytes
    await track_relays(ctx, relayer_env)  # sees them mined

    assert again.status_code == 202 and again.json()["tx_hash"] == stored.tx_hash
    assert [(t.tx_hash, t.status) for t in await relay_txs(ctx)] == [(stored.tx_hash, "mined")]
    (relay,) = await relay_rows(ctx)
    assert relay.status == "mined"
    assert erc20_balance(env.w3, env.token, friend) == 2 * TOKENS
    assert erc20_balance(env.w3, env.token, account) == 3 * TOKENS
