"""The demo's shopper without a crypto wallet: a passkey is her wallet, Cascade pays the gas.

Erin's device makes a passkey (a software authenticator producing the bytes a
browser sends); the backend derives its PasskeyAccount's counterfactual address,
which is her wallet and her session's. She lands through Alice's link and buys,
claims without gas (the relayer batches it in pullRewardsForMany), then sends part to a
friend: the backend prepares the operation, her passkey signs its EIP-712 digest,
the relayer deploys her account and executes it in one transaction, and the
account checks the signature on-chain. Every step goes through the public HTTP
API, with her session, as the listener and the wallet page do.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.accounts import eip712
from backend.accounts.webauthn import challenge_b64url, encode_auth
from backend.demo.authenticator import SoftwareAuthenticator, from_b64url
from backend.demo.story import MAX_DEPTH, Story, tokens
from backend.rewards.calculator import split_reward

Mine = Callable[[int], None]


@dataclass
class PasskeyShopper:
    name: str
    authenticator: SoftwareAuthenticator
    wallet: str
    token: str  # her listener session (bearer)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _post(story: Story, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await story.api.post(path, json=body, headers=headers)
    if response.status_code >= 400:
        raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text}")
    return response.json()


def _chain(story: Story) -> Any:
    from backend.chain.client import connect

    return connect(story.ctx.rpc_url)


def _erc20(story: Story, wallet: str) -> int:
    from backend.chain.client import contract

    erc20 = contract(_chain(story), "MockERC20", story.token)
    return int(erc20.functions.balanceOf(wallet).call())


def _factory(story: Story) -> Any:
    from backend.chain.client import contract

    return contract(
        _chain(story), "PasskeyAccountFactory", str(story.ctx.settings.account_factory_address)
    )


async def sign_up(story: Story, name: str) -> PasskeyShopper:
    """A passkey, then the wallet it is: factory.getAddress(x, y, sha256(rp id), 0)."""
    story.say(f"{name} has no crypto wallet: her phone makes a passkey (no app, no seed phrase)")
    options = await _post(story, "/api/auth/passkey/signup/options", {}, {})
    selection = options["authenticatorSelection"]
    story.check(
        selection["userVerification"] == "required"
        and selection["residentKey"] == "required"
        and [p["alg"] for p in options["pubKeyCredParams"]] == [-7],
        "sign-up asks for a resident ES256 passkey with user verification (the account's key)",
    )
    authenticator = SoftwareAuthenticator(origin=str(story.ctx.settings.public_url).rstrip("/"))
    session = await _post(
        story,
        "/api/auth/passkey/signup/verify",
        {"credential": authenticator.create(options), "kind": "listener"},
        {},
    )
    wallet = str(session["wallet"])
    story.say(f"  {name}'s wallet: {wallet}")
    story.wallets[name] = wallet
    x, y = authenticator.passkeys[-1].xy
    rp_id = options["rp"]["id"]
    expected = await asyncio.to_thread(
        lambda: (
            _factory(story)
            .functions.getAddress(x, y, hashlib.sha256(rp_id.encode()).digest(), 0)
            .call()
        )
    )
    story.check(
        wallet == expected,
        f"{name}'s wallet is her passkey's account: factory.getAddress(x, y, sha256({rp_id!r}), 0)",
    )
    code = await asyncio.to_thread(lambda: _chain(story).eth.get_code(wallet))
    story.check(len(code) == 0, f"{name}'s account is not deployed yet: nothing paid for it so far")
    login = await _post(story, "/api/auth/passkeys/login/options", {}, {})
    again = await _post(
        story, "/api/auth/passkeys/login/verify", {"credential": authenticator.get(login)}, {}
    )
    story.check(
        again["wallet"] == wallet, "signing in with the passkey alone opens the same wallet"
    )
    return PasskeyShopper(name, authenticator, wallet, str(session["token"]))


async def land_and_buy(story: Story, shopper: PasskeyShopper, via: str, order_id: str) -> None:
    """Referral and purchase from her browser (her session), the payment from the shop."""
    story.say(f"{shopper.name} lands through {via}'s link and buys (order {order_id})")
    checkout_token = uuid.uuid4().hex  # what the shop platform gives her page, and signs again
    for kind, data in (
        ("referral.referred", {"referrer_token": story.referral_token[via]}),
        ("purchase.started", {"order_id": order_id, "order_token": checkout_token}),
    ):
        await _post(
            story,
            "/api/external/interactions",
            {"product_id": story.product_id, "wallet": shopper.wallet, "type": kind, "data": data},
            shopper.auth,
        )
    story.chain_of[shopper.name] = [via, *story.chain_of.get(via, [])][:MAX_DEPTH]
    await story.shopify_paid(order_id, checkout_token)
    parts = split_reward(
        10 * 10**18, 5_000, 8_000, len(story.chain_of[shopper.name]), requires_referral=True
    )
    for who, amount in zip([shopper.name, *story.chain_of[shopper.name]], parts, strict=True):
        story.expected[who] = story.expected.get(who, 0) + amount


async def _until_final(story: Story, shopper: PasskeyShopper, relay_id: str, mine: Mine) -> Any:
    """The relayer's tracker (a scheduler job when serving) until the relay is mined."""
    from backend.relayer.job import track_relays

    for _ in range(60):
        relay = (await story.api.get(f"/api/wallet/relays/{relay_id}", headers=shopper.auth)).json()
        if relay["status"] in ("mined", "failed"):
            return relay
        await track_relays(story.ctx)
        mine(1)
    raise TimeoutError(f"relay {relay_id} is still {relay['status']}")


def _relayer(story: Story) -> str:
    from backend.chain.client import account

    return str(account(story.ctx.settings.effective_relayer_key()).address)


async def gasless_claim(story: Story, shopper: PasskeyShopper, mine: Mine) -> None:
    """POST /api/wallet/claim: queued, then paid by the relayer's next pullRewardsForMany."""
    name, wallet = shopper.name, shopper.wallet
    w3 = _chain(story)
    story.say(
        f"{name} claims without gas: the relayer batches it (pullRewardsForMany, {wallet[:10]}…)"
    )
    accepted = await _post(story, "/api/wallet/claim", {}, shopper.auth)
    relay = await _until_final(story, shopper, accepted["relay_id"], mine)
    story.say(f"  claim {relay['status']} in {relay['tx_hash']}")
    held = await asyncio.to_thread(_erc20, story, wallet)
    story.check(
        relay["status"] == "mined" and held == story.expected[name],
        f"{name}'s account holds exactly {tokens(story.expected[name])} EURe",
    )
    sender = (await asyncio.to_thread(w3.eth.get_transaction, relay["tx_hash"]))["from"]
    eth = await asyncio.to_thread(w3.eth.get_balance, wallet)
    story.check(
        sender == _relayer(story) and eth == 0,
        f"the relayer {sender[:10]}… paid the gas; {name}'s account has 0 ETH",
    )


async def passkey_send(
    story: Story, shopper: PasskeyShopper, friend: str, amount: int, mine: Mine
) -> None:
    """Prepare, sign the EIP-712 digest with the passkey, relay; the account checks on-chain."""
    name, wallet = shopper.name, shopper.wallet
    w3 = _chain(story)
    before = await asyncio.to_thread(_erc20, story, wallet)
    story.say(f"{name} sends {tokens(amount)} EURe to her friend Frank ({friend})")
    prepared = await _post(
        story,
        "/api/wallet/send/prepare",
        {"token": story.token, "to": friend, "amount": str(amount)},
        shopper.auth,
    )
    calls = [
        (c["target"], int(c["value"]), bytes.fromhex(c["data"][2:])) for c in prepared["calls"]
    ]
    chain_id = await asyncio.to_thread(lambda: w3.eth.chain_id)
    digest = eip712.execute_digest(
        chain_id, wallet, calls, int(prepared["nonce"]), int(prepared["deadline"])
    )
    story.check(
        prepared["challenge"] == challenge_b64url(digest)
        and calls[0][0] == story.token
        and not prepared["account_deployed"],
        "the passkey signs the EIP-712 digest of (transfer call, nonce, deadline) for her account",
    )
    rp_id = str(rp_id_of(story))
    forged = shopper.authenticator.get({"rpId": rp_id, "challenge": challenge_b64url(bytes(32))})
    refused = await story.api.post(
        "/api/wallet/send",
        json={"operation_id": prepared["operation_id"], "credential": forged},
        headers=shopper.auth,
    )
    reverted = await asyncio.to_thread(_simulate_first_send, story, shopper, prepared, forged)
    story.check(
        refused.status_code == 401
        and refused.json()["error"]["code"] == "passkey_rejected"
        and "account: bad auth" in reverted,
        "a signature over anything else is refused: by the backend (401) and on-chain (bad auth)",
    )
    signed = shopper.authenticator.get({"rpId": rp_id, "challenge": prepared["challenge"]})
    accepted = await _post(
        story,
        "/api/wallet/send",
        {"operation_id": prepared["operation_id"], "credential": signed},
        shopper.auth,
    )
    relay = await _until_final(story, shopper, accepted["relay_id"], mine)
    story.say(f"  send {relay['status']} in {relay['tx_hash']} (account deployed in the same tx)")
    receipt = await asyncio.to_thread(w3.eth.get_transaction_receipt, relay["tx_hash"])
    executed = _executed_by(story, receipt, wallet)
    story.check(
        relay["status"] == "mined" and executed,
        f"{name}'s account checked her passkey signature on-chain (P-256 precompile) and ran it",
    )
    held, frank = await asyncio.gather(
        asyncio.to_thread(_erc20, story, wallet), asyncio.to_thread(_erc20, story, friend)
    )
    story.check(
        frank == amount and held == before - amount,
        f"Frank holds {tokens(frank)} EURe, {name} keeps {tokens(held)} EURe",
    )
    code = await asyncio.to_thread(w3.eth.get_code, wallet)
    eth = await asyncio.to_thread(w3.eth.get_balance, wallet)
    story.check(
        len(code) > 0 and eth == 0 and receipt["from"] == _relayer(story),
        f"{name}'s account exists now; the relayer paid; she still has 0 ETH",
    )
    again = await story.api.post(
        "/api/wallet/send",
        json={"operation_id": prepared["operation_id"], "credential": signed},
        headers=shopper.auth,
    )
    after = await asyncio.to_thread(_erc20, story, friend)
    story.check(
        again.status_code == 202
        and again.json()["relay_id"] == accepted["relay_id"]
        and after == frank,
        "sending the same signed operation again relays nothing new",
    )


def rp_id_of(story: Story) -> str:
    from backend.auth.relying_party import relying_party

    return relying_party(story.ctx.settings).id


def _simulate_first_send(
    story: Story, shopper: PasskeyShopper, prepared: dict[str, Any], credential: dict[str, Any]
) -> str:
    """What the chain says to createAndExecute with this assertion, sent by anyone."""
    from web3.exceptions import ContractLogicError

    x, y = shopper.authenticator.passkeys[-1].xy
    response = credential["response"]
    auth = encode_auth(
        from_b64url(response["authenticatorData"]),
        from_b64url(response["clientDataJSON"]),
        from_b64url(response["signature"]),
        x,
        y,
    )
    calls = [
        (c["target"], int(c["value"]), bytes.fromhex(c["data"][2:])) for c in prepared["calls"]
    ]
    rp_hash = hashlib.sha256(rp_id_of(story).encode()).digest()
    try:
        _factory(story).functions.createAndExecute(
            x, y, rp_hash, 0, calls, int(prepared["nonce"]), int(prepared["deadline"]), auth
        ).call({"from": _relayer(story)})
    except ContractLogicError as exc:
        return str(exc)
    return "accepted"


def _executed_by(story: Story, receipt: Any, wallet: str) -> bool:
    """The account emitted Executed(nonce, 1): it verified the passkey and ran the call."""
    from web3.logs import DISCARD

    from backend.chain.client import contract

    account = contract(_chain(story), "PasskeyAccount", wallet)
    events = [
        event
        for event in account.events.Executed().process_receipt(receipt, errors=DISCARD)
        if event["address"] == wallet  # the token's Transfer and the factory's log are others
    ]
    return len(events) == 1 and events[0]["args"]["count"] == 1
