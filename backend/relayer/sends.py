"""Passkey-signed sends: prepare the operation, check the assertion, relay it.

The backend builds the calls (an ERC-20 transfer from the account), the account's
next nonce (0, 1, 2, ...) and a deadline, and stores them with their EIP-712 digest: the
WebAuthn challenge the browser signs. The send checks the assertion before paying
for anything (the stored passkey of this account, the digest as challenge, user
verification, origin), turns it into the account's `auth` bytes and relays
execute(), or factory.createAndExecute() while the account has no code. The chain
checks the signature again: the backend can relay, never authorise; a forged or
replayed operation reverts on-chain whoever sends it (tests/relayer/test_send.py).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from eth_utils import is_address, to_checksum_address
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import verify_authentication_response
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException

from backend.accounts import eip712
from backend.accounts.webauthn import challenge_b64url, encode_auth, public_key_xy, rp_id_hash
from backend.auth.models import PasskeyCredential, WalletLink
from backend.auth.relying_party import relying_party
from backend.auth.signup import PASSKEY_PROOF
from backend.core.errors import Conflict, DomainError, InvalidInput, NotFound, Unauthorized
from backend.products.models import ProductToken
from backend.relayer import chain, policy, repository
from backend.relayer.models import RelayKind, RelayRequest, SendOperation
from backend.relayer.relay import Planned, RelayerEnv, submit
from backend.relayer.schemas import CallRead, PreparedSend
from backend.relayer.service import RelayView, check_budget, limited, view
from backend.settlement.transactions import SEND, estimate_gas
from backend.wallets import chain as wallet_chain

SEND_TTL = timedelta(minutes=10)  # the operation and its on-chain deadline
MAX_GAS = 1_500_000  # deploy + execute stays far below; above it something is wrong
ACCOUNT_SALT = 0


class Gone(DomainError):
    status_code = 410
    code = "operation_expired"


def _address(value: str, field: str) -> str:
    if not is_address(value):
        raise InvalidInput(f"{field} must be a 20-byte hex address", code=f"invalid_{field}")
    return str(to_checksum_address(value))


async def _require_passkey_account(session: AsyncSession, wallet: str) -> None:
    link = await session.get(WalletLink, wallet)
    if link is None or link.proof != PASSKEY_PROOF:
        raise Conflict(
            "this wallet is not a passkey account: send from your own wallet app",
            code="not_a_passkey_account",
        )


async def _check_send_count(
    session: AsyncSession, env: RelayerEnv, chain_id: int, wallet: str
) -> None:
    since = policy.day_start(env.clock())
    count = await repository.requests_since(session, chain_id, wallet, RelayKind.SEND, since)
    if count >= env.settings.relayer_sends_per_wallet_per_day:
        raise limited(
            "send_limit_reached",
            f"at most {env.settings.relayer_sends_per_wallet_per_day} sponsored sends per day",
            env,
        )


async def prepare_send(
    env: RelayerEnv, wallet: str, token: str, to: str, amount: str
) -> PreparedSend:
    """Store the operation a passkey will sign; its digest is the WebAuthn challenge."""
    token = _address(token, "token")
    recipient = _address(to, "recipient")
    value = int(amount)
    if not 0 < value < 2**256:
        raise InvalidInput("amount must be a positive uint256", code="invalid_amount")
    if int(recipient, 16) == 0:
        raise InvalidInput("cannot send to the zero address", code="invalid_recipient")
    sender = await env.sender()
    w3 = sender.reader.w3
    async with env.ctx.sessions() as session:
        await _require_passkey_account(session, wallet)
        known = await session.scalar(
            select(ProductToken.id).where(ProductToken.address == token).limit(1)
        )
        if known is None:
            raise InvalidInput(
                "the wallet sends tokens of Cascade products only", code="unknown_token"
            )
        await _check_send_count(session, env, sender.chain_id, wallet)
    balance = (await wallet_chain.balances(w3, [token], wallet))[token]
    if balance is None or balance < value:
        raise InvalidInput(
            "the account holds less than this amount",
            code="insufficient_balance",
            details={"balance": str(balance or 0)},
        )
    head = await sender.reader.block("latest")
    deadline = int(head["timestamp"]) + int(SEND_TTL.total_seconds())
    calls = [chain.transfer_call(token, recipient, value)]
    async with env.ctx.sessions() as session:
        # Nonces numbered 0, 1, 2, ... per account: the account keeps them as bits of one
        # storage word per 256, so a later send updates a warm, non-zero word (~17k gas less
        # than a random nonce's fresh word). The lock keeps two prepares from sharing one.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"passkey-send-nonce:{sender.chain_id}:{wallet}"},
        )
        nonce = int(
            await session.scalar(
                select(func.coalesce(func.max(SendOperation.nonce) + 1, 0)).where(
                    SendOperation.chain_id == sender.chain_id, SendOperation.wallet == wallet
                )
            )
            or 0
        )
        digest = eip712.execute_digest(sender.chain_id, wallet, calls, nonce, deadline)
        operation = SendOperation(
            id=uuid.uuid4(),
            chain_id=sender.chain_id,
            wallet=wallet,
            token=token,
            recipient=recipient,
            amount=value,
            calls=[{"target": t, "value": str(v), "data": "0x" + d.hex()} for t, v, d in calls],
            nonce=nonce,
            deadline=deadline,
            digest="0x" + digest.hex(),
            expires_at=env.clock() + SEND_TTL,
        )
        session.add(operation)
        await session.commit()
    return PreparedSend(
        operation_id=str(operation.id),
        digest=operation.digest,
        challenge=challenge_b64url(digest),
        nonce=str(nonce),
        deadline=deadline,
        calls=[CallRead(**call) for call in operation.calls],
        account_deployed=await wallet_chain.has_code(w3, wallet),
    )


def _calls(operation: SendOperation) -> list[tuple[str, int, bytes]]:
    return [
        (call["target"], int(call["value"]), bytes.fromhex(call["data"][2:]))
        for call in operation.calls
    ]


async def _operation(session: AsyncSession, wallet: str, operation_id: str) -> SendOperation:
    try:
        key = uuid.UUID(operation_id)
    except ValueError:
        raise NotFound("no such operation", code="operation_unknown") from None
    operation = await session.scalar(
        select(SendOperation).where(SendOperation.id == key, SendOperation.wallet == wallet)
    )
    if operation is None:
        raise NotFound("no such operation", code="operation_unknown")
    return operation


async def _relay_of(session: AsyncSession, operation_id: uuid.UUID) -> RelayRequest | None:
    return await session.scalar(
        select(RelayRequest).where(RelayRequest.operation_id == operation_id)
    )


async def _checked_auth(
    session: AsyncSession,
    env: RelayerEnv,
    wallet: str,
    operation: SendOperation,
    credential: dict[str, Any],
) -> tuple[bytes, int, int]:
    """The account's `auth` bytes for this assertion, once it checks out here; and (x, y)."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except Exception:
        raise InvalidInput(
            "malformed authentication credential", code="invalid_credential"
        ) from None
    passkey = await session.scalar(
        select(PasskeyCredential).where(
            PasskeyCredential.credential_id == parsed.raw_id, PasskeyCredential.wallet == wallet
        )
    )
    if passkey is None:
        raise Unauthorized("this passkey is not a signer of the account", code="passkey_rejected")
    rp = relying_party(env.settings)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=bytes.fromhex(operation.digest[2:]),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise Unauthorized(f"passkey refused: {exc}", code="passkey_rejected") from None
    swapped = await session.execute(
        update(PasskeyCredential)
        .where(
            PasskeyCredential.id == passkey.id,
            PasskeyCredential.sign_count == passkey.sign_count,
        )
        .values(sign_count=verified.new_sign_count, last_used_at=env.clock())
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthorized("the passkey was used concurrently", code="passkey_rejected")
    x, y = public_key_xy(passkey.public_key)
    response = parsed.response
    try:
        auth = encode_auth(
            response.authenticator_data, response.client_data_json, response.signature, x, y
        )
    except ValueError as exc:
        raise Unauthorized(f"passkey refused: {exc}", code="passkey_rejected") from None
    return auth, x, y


REVERT_REFUSALS: dict[str, tuple[type[DomainError], str]] = {
    "account: bad auth": (Unauthorized, "passkey_rejected"),
    "account: expired": (Gone, "operation_expired"),
    "account: nonce used": (Conflict, "operation_used"),
}


def _refusal(reason: str) -> DomainError:
    for message, (kind, code) in REVERT_REFUSALS.items():
        if message in reason:
            return kind(f"the account refuses this operation: {reason}", code=code)
    return InvalidInput(
        f"the send would revert: {reason}", code="send_reverted", details={"reason": reason}
    )


async def send(
    env: RelayerEnv, wallet: str, operation_id: str, credential: dict[str, Any]
) -> RelayView:
    """Relay a prepared operation with the passkey's assertion over its digest."""
    sender = await env.sender()
    w3 = sender.reader.w3
    async with env.ctx.sessions() as session:
        operation = await _operation(session, wallet, operation_id)
        relayed = await _relay_of(session, operation.id)
        if relayed is not None:
            return view(relayed, await repository.newest_tx_hash(session, relayed))
        if env.clock() > operation.expires_at:
            raise Gone("this operation expired; prepare the send again")
        await _check_send_count(session, env, sender.chain_id, wallet)
        auth, x, y = await _checked_auth(session, env, wallet, operation, credential)
        await session.commit()
    calls = _calls(operation)
    if await wallet_chain.has_code(w3, wallet):
        target = wallet
        data = chain.calldata(
            chain.passkey_account(w3, wallet),
            "execute",
            [calls, operation.nonce, operation.deadline, auth],
        )
    else:
        factory = env.settings.account_factory_address
        if not factory:
            raise Conflict("passkey accounts are not configured", code="not_a_passkey_account")
        rp_hash = rp_id_hash(relying_party(env.settings).id)
        contract = chain.account_factory(w3, factory)
        created = await contract.functions.getAddress(x, y, rp_hash, ACCOUNT_SALT).call()
        if to_checksum_address(created) != wallet:  # not the key this account was made from
            raise Unauthorized("this passkey did not create the account", code="passkey_rejected")
        target = str(factory)
        data = chain.calldata(
            contract,
            "createAndExecute",
            [x, y, rp_hash, ACCOUNT_SALT, calls, operation.nonce, operation.deadline, auth],
        )
    call = {"from": sender.signer.address, "to": target, "data": data, "value": 0}
    reason = await sender.reader.simulate(call)
    if reason is not None:
        raise _refusal(reason)
    gas = await estimate_gas(sender, call)
    if gas > MAX_GAS:
        raise InvalidInput("this send needs more gas than the relayer pays", code="send_reverted")
    planned = Planned(
        kind=SEND,
        wallet=wallet,
        target=target,
        data=data,
        gas_limit=gas,
        payload={
            "token": operation.token,
            "to": operation.recipient,
            "amount": str(operation.amount),
        },
        operation_id=operation.id,
    )

    async def recheck(session: AsyncSession) -> RelayRequest | None:
        relayed = await _relay_of(session, operation.id)
        if relayed is not None:
            return relayed
        await _check_send_count(session, env, sender.chain_id, wallet)
        await check_budget(session, env, sender.chain_id, gas, {})
        return None

    relay, tx_hash = await submit(env, planned, recheck)
    return view(relay, tx_hash)
