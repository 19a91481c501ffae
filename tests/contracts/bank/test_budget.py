"""ProductBank campaign budgets: compare-and-set allocation, deactivation, views."""

from __future__ import annotations

import ape

from tests.contracts.conftest import (
    FUNDS,
    UNLIMITED,
    events,
    hexb,
    random_address,
    random_bytes32,
)


def test_allocate__manager_sets_budget_and_activates(bank, token, signer, campaign_id):
    assert bank.isCampaignActive(campaign_id, token) is False
    assert bank.getCampaignBudget(campaign_id, token) == 0
    receipt = bank.allocateCampaignBudget(campaign_id, token, 0, 500, sender=signer)
    assert bank.isCampaignActive(campaign_id, token) is True
    assert bank.getCampaignBudget(campaign_id, token) == 500
    assert events(receipt) == [
        (
            "CampaignBudgetAllocated",
            {"campaignId": hexb(campaign_id), "token": token.address, "budget": 500},
        )
    ]
    # The next allocation names what the bank holds now: 500.
    bank.allocateCampaignBudget(campaign_id, token, 500, 200, sender=signer)
    assert bank.getCampaignBudget(campaign_id, token) == 200


def test_allocate__retried_call_fails_the_compare_and_changes_nothing(
    bank, token, signer, campaign_id
):
    bank.allocateCampaignBudget(campaign_id, token, 0, 500, sender=signer)
    with ape.reverts("bank: budget changed"):
        bank.allocateCampaignBudget(campaign_id, token, 0, 500, sender=signer)
    assert bank.getCampaignBudget(campaign_id, token) == 500


def test_allocate__expected_remaining_mismatch_reverts(
    funded_bank, token, signer, sign_batch, users
):
    campaign = random_bytes32()
    funded_bank.allocateCampaignBudget(campaign, token, 0, 100, sender=signer)
    # A push lands between the manager's read (100) and their write.
    funded_bank.pushRewards(
        *sign_batch(funded_bank, campaign, token, [(users[0], 30)]), sender=signer
    )
    with ape.reverts("bank: budget changed"):
        funded_bank.allocateCampaignBudget(campaign, token, 100, 150, sender=signer)
    assert funded_bank.getCampaignBudget(campaign, token) == 70
    funded_bank.allocateCampaignBudget(campaign, token, 70, 120, sender=signer)
    assert funded_bank.getCampaignBudget(campaign, token) == 120
    # An unlimited budget is expected as max uint256, never as 0.
    funded_bank.allocateCampaignBudget(campaign, token, 120, UNLIMITED, sender=signer)
    with ape.reverts("bank: budget changed"):
        funded_bank.allocateCampaignBudget(campaign, token, 0, 10, sender=signer)


def test_allocate__max_means_unlimited(bank, token, product_owner, campaign_id):
    receipt = bank.allocateCampaignBudget(campaign_id, token, 0, UNLIMITED, sender=product_owner)
    assert bank.getCampaignBudget(campaign_id, token) == UNLIMITED
    assert bank.isCampaignActive(campaign_id, token) is True
    assert events(receipt)[0][1]["budget"] == UNLIMITED
    bank.allocateCampaignBudget(campaign_id, token, UNLIMITED, 7, sender=product_owner)
    assert bank.getCampaignBudget(campaign_id, token) == 7


def test_allocate__zero_means_zero(funded_bank, push_pull, token, signer, sign_batch, users):
    campaign = random_bytes32()
    funded_bank.allocateCampaignBudget(campaign, token, 0, 0, sender=signer)
    assert funded_bank.isCampaignActive(campaign, token) is True
    assert funded_bank.getCampaignBudget(campaign, token) == 0
    with ape.reverts("bank: budget exceeded"):
        funded_bank.pushRewards(
            *sign_batch(funded_bank, campaign, token, [(users[0], 1)]), sender=signer
        )
    # Zeroing an exhausted, then a funded budget stops it; it never becomes unlimited.
    funded_bank.allocateCampaignBudget(campaign, token, 0, 5, sender=signer)
    funded_bank.allocateCampaignBudget(campaign, token, 5, 0, sender=signer)
    with ape.reverts("bank: budget exceeded"):
        funded_bank.pushRewards(
            *sign_batch(funded_bank, campaign, token, [(users[0], 1)]), sender=signer
        )
    assert push_pull.getPendingAmount(token, users[0]) == 0


def test_allocate__budget_is_per_token(bank, token, token_b, signer, campaign_id):
    bank.allocateCampaignBudget(campaign_id, token, 0, 10, sender=signer)
    assert bank.isCampaignActive(campaign_id, token_b) is False


def test_allocate__reverts(bank, token, stranger, signer, campaign_id):
    with ape.reverts("bank: not manager"):
        bank.allocateCampaignBudget(campaign_id, token, 0, 10, sender=stranger)
    with ape.reverts("bank: budget too large"):
        bank.allocateCampaignBudget(campaign_id, token, 0, 2**253, sender=signer)
    with ape.reverts("bank: budget too large"):
        bank.allocateCampaignBudget(campaign_id, token, 0, UNLIMITED - 1, sender=signer)
    bank.allocateCampaignBudget(campaign_id, token, 0, 2**253 - 1, sender=signer)
    assert bank.getCampaignBudget(campaign_id, token) == 2**253 - 1


def test_deactivate__stops_every_token_for_good(bank, token, token_b, signer, campaign_id):
    bank.allocateCampaignBudget(campaign_id, token, 0, 10, sender=signer)
    bank.allocateCampaignBudget(campaign_id, token_b, 0, UNLIMITED, sender=signer)
    receipt = bank.deactivateCampaign(campaign_id, sender=signer)
    assert events(receipt) == [("CampaignDeactivated", {"campaignId": hexb(campaign_id)})]
    assert bank.isCampaignActive(campaign_id, token) is False
    assert bank.isCampaignActive(campaign_id, token_b) is False
    assert bank.getCampaignBudget(campaign_id, token_b) == 0
    with ape.reverts("bank: campaign deactivated"):
        bank.allocateCampaignBudget(campaign_id, token, 0, 10, sender=signer)
    with ape.reverts("bank: campaign deactivated"):
        bank.deactivateCampaign(campaign_id, sender=signer)


def test_deactivate__every_token_refuses_pushes_even_one_never_allocated(
    deploy_bank, token, token_b, signer, campaign_id, sign_batch, users
):
    bank = deploy_bank()
    token.mint(bank, FUNDS, sender=signer)
    bank.allocateCampaignBudget(campaign_id, token, 0, 10, sender=signer)
    bank.allocateCampaignBudget(campaign_id, token_b, 0, UNLIMITED, sender=signer)
    other = random_bytes32()  # a second campaign, never allocated token_b
    bank.allocateCampaignBudget(other, token, 0, UNLIMITED, sender=signer)
    bank.deactivateCampaign(campaign_id, sender=signer)
    bank.deactivateCampaign(other, sender=signer)
    for campaign, paid_in in ((campaign_id, token), (campaign_id, token_b), (other, token_b)):
        args = sign_batch(bank, campaign, paid_in, [(users[0], 1)])
        with ape.reverts("bank: campaign deactivated"):
            bank.pushRewards(*args, sender=users[0])


def test_allocate__at_most_16_tokens_per_campaign(bank, signer, campaign_id):
    tokens = [random_address() for _ in range(17)]
    for each in tokens[:16]:
        bank.allocateCampaignBudget(campaign_id, each, 0, 10, sender=signer)
    with ape.reverts("bank: too many tokens"):
        bank.allocateCampaignBudget(campaign_id, tokens[16], 0, 10, sender=signer)
    bank.allocateCampaignBudget(campaign_id, tokens[0], 10, 20, sender=signer)  # a known one
    assert bank.getCampaignBudget(campaign_id, tokens[0]) == 20
    bank.deactivateCampaign(campaign_id, sender=signer)
    assert not any(bank.isCampaignActive(campaign_id, each) for each in tokens)


def test_deactivate__manager_or_owner_only(bank, stranger, product_owner):
    campaign = random_bytes32()
    with ape.reverts("bank: not manager"):
        bank.deactivateCampaign(campaign, sender=stranger)
    bank.deactivateCampaign(campaign, sender=product_owner)
