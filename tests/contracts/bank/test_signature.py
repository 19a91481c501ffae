"""ProductBank.pushRewards: the EIP-712 signature is the only authority."""

from __future__ import annotations

import ape
from ape import accounts, chain
from eth_account import Account

from tests.contracts.conftest import (
    DISTRIBUTOR_ROLE,
    MANAGER_ROLE,
    UNLIMITED,
    random_bytes32,
    words,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _with_signature(args, signature):
    return (*args[:5], signature)


def test_signed_for_another_bank__rejected(
    funded_bank, deploy_bank, token, campaign_id, sign_batch, users
):
    other = deploy_bank()
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], bank_address=other.address)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*args, sender=users[0])


def test_signed_for_another_chain__rejected(funded_bank, token, campaign_id, sign_batch, users):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], chain_id=chain.chain_id + 1)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*args, sender=users[0])


def test_signed_for_another_campaign__rejected(
    funded_bank, signer, token, campaign_id, sign_batch, users
):
    other_campaign = random_bytes32()
    funded_bank.allocateCampaignBudget(other_campaign, token, 0, UNLIMITED, sender=signer)
    args = sign_batch(funded_bank, other_campaign, token, [(users[0], 5)])
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(campaign_id, *args[1:], sender=users[0])


def test_tampered_amount_or_token__rejected(
    funded_bank, token, token_b, campaign_id, sign_batch, users
):
    campaign, token_address, rewards, nonce, deadline, signature = sign_batch(
        funded_bank, campaign_id, token, [(users[0], 5)]
    )
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(
            campaign,
            token_address,
            words([(users[0].address, 6)]),
            nonce,
            deadline,
            signature,
            sender=users[0],
        )
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(
            campaign, token_b.address, rewards, nonce, deadline, signature, sender=users[0]
        )


def test_signer_without_distributor_role__rejected(
    funded_bank, token, campaign_id, sign_batch, users, stranger
):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], key=stranger.private_key)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*args, sender=users[0])


def test_revoked_distributor__its_signed_batches_die(
    funded_bank, product_owner, signer, token, campaign_id, sign_batch, users
):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*args, sender=users[0])


def test_new_distributor__its_batches_pay(
    funded_bank, product_owner, token, campaign_id, sign_batch, users, push_pull
):
    fresh = accounts.test_accounts[8]
    before = push_pull.getPendingAmount(token, users[0])
    funded_bank.grantRole(DISTRIBUTOR_ROLE, fresh, sender=product_owner)
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], key=fresh.private_key)
    funded_bank.pushRewards(*args, sender=users[0])
    assert push_pull.getPendingAmount(token, users[0]) == before + 5


def test_high_s_twin__rejected(funded_bank, token, campaign_id, sign_batch, users):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    signature = args[5]
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    assert Account._recover_hash(b"\x00" * 32, signature=twin) is not None
    with ape.reverts("bank: bad signature"):
        funded_bank.pushRewards(*_with_signature(args, twin), sender=users[0])
    funded_bank.pushRewards(*args, sender=users[0])


def test_malformed_signatures__rejected(funded_bank, token, campaign_id, sign_batch, users):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    signature = args[5]
    bad_v = signature[:64] + bytes([signature[64] - 27])  # v in {0, 1}
    for broken in (signature[:64], b"", bad_v, signature[:64] + b"\x1d"):
        with ape.reverts("bank: bad signature"):
            funded_bank.pushRewards(*_with_signature(args, broken), sender=users[0])


def test_unrecoverable_signature__zero_address_rejected(
    funded_bank, token, campaign_id, sign_batch, users
):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    # r = 0 is not a curve point: ecrecover returns the zero address.
    zero_r = b"\x00" * 32 + args[5][32:]
    with ape.reverts("bank: bad signature"):
        funded_bank.pushRewards(*_with_signature(args, zero_r), sender=users[0])


def test_revoke_then_regrant_same_key__old_signature_never_pays(
    funded_bank, push_pull, product_owner, signer, token, campaign_id, sign_batch, users
):
    old = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    assert funded_bank.distributorEpoch() == 0

    funded_bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
    funded_bank.grantRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)

    assert funded_bank.distributorEpoch() == 1
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*old, sender=users[0])
    assert funded_bank.isNonceUsed(old[3]) is False
    fresh = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])  # epoch 1
    funded_bank.pushRewards(*fresh, sender=users[0])
    assert push_pull.getPendingAmount(token, users[0]) == 5


def test_revoking_any_distributor__kills_every_outstanding_signature(
    funded_bank, product_owner, token, campaign_id, sign_batch, users
):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    other = accounts.test_accounts[8]
    funded_bank.grantRole(DISTRIBUTOR_ROLE, other, sender=product_owner)
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, other, sender=product_owner)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*args, sender=users[0])


def test_epoch__moves_only_when_a_held_distributor_role_is_revoked(
    funded_bank, product_owner, signer, stranger
):
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)  # never held
    funded_bank.revokeRole(MANAGER_ROLE, signer, sender=product_owner)
    funded_bank.grantRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    assert funded_bank.distributorEpoch() == 0
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)  # again: no-op
    assert funded_bank.distributorEpoch() == 1


def test_signed_for_another_epoch__rejected(funded_bank, token, campaign_id, sign_batch, users):
    ahead = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], epoch=1)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*ahead, sender=users[0])


def test_revoked_word_distributor__signing_for_the_new_epoch_is_rejected(
    funded_bank, product_owner, signer, token, campaign_id, sign_batch, users
):
    # the first distributor lives in the bank's status word; revoking it must clear the word
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], epoch=1)
    with ape.reverts("bank: not distributor"):
        funded_bank.pushRewards(*args, sender=users[0])


def test_distributors__the_word_holder_skips_the_role_read_and_the_next_grant_takes_the_word(
    funded_bank, push_pull, product_owner, signer, token, campaign_id, sign_batch, users
):
    second, third = accounts.test_accounts[8], accounts.test_accounts[9]
    funded_bank.grantRole(DISTRIBUTOR_ROLE, second, sender=product_owner)
    warm = sign_batch(funded_bank, campaign_id, token, [(users[0], 1)], nonce=bytes(32))
    funded_bank.pushRewards(*warm, sender=users[0])  # funds the book, writes nonce word 0

    def gas(key):
        nonce = (1 + gas.calls).to_bytes(32, "big")  # nonce word 0, already written
        gas.calls += 1
        args = sign_batch(funded_bank, campaign_id, token, [(users[0], 1)], key=key, nonce=nonce)
        return funded_bank.pushRewards(*args, sender=users[0]).gas_used

    gas.calls = 0
    holder, other = gas(signer.private_key), gas(second.private_key)
    assert other - holder >= 2_000  # the other distributor's cold hasRole read (2,100)

    funded_bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)  # empties the word
    funded_bank.grantRole(DISTRIBUTOR_ROLE, third, sender=product_owner)  # takes it
    assert gas(second.private_key) - gas(third.private_key) >= 2_000
    assert push_pull.getPendingAmount(token, users[0]) == 5
