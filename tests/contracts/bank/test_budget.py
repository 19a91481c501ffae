"""ProductBank campaign budgets: allocate, deactivate, views."""

from __future__ import annotations

import ape

from tests.contracts.conftest import UNLIMITED, events, hexb, random_bytes32


def test_allocate__manager_sets_budget_and_activates(bank, token, signer, campaign_id):
    assert bank.isCampaignActive(campaign_id, token) is False
    assert bank.getCampaignBudget(campaign_id, token) == 0
    receipt = bank.allocateCampaignBudget(campaign_id, token, 500, sender=signer)
    assert bank.isCampaignActive(campaign_id, token) is True
    assert bank.getCampaignBudget(campaign_id, token) == 500
    assert events(receipt) == [
        (
            "CampaignBudgetAllocated",
            {"campaignId": hexb(campaign_id), "token": token.address, "budget": 500},
        )
    ]
    # Setting again replaces the budget (a retried call is harmless).
    bank.allocateCampaignBudget(campaign_id, token, 200, sender=signer)
    assert bank.getCampaignBudget(campaign_id, token) == 200


def test_allocate__zero_means_unlimited(bank, token, product_owner, campaign_id):
    bank.allocateCampaignBudget(campaign_id, token, 0, sender=product_owner)
    assert bank.getCampaignBudget(campaign_id, token) == UNLIMITED
    assert bank.isCampaignActive(campaign_id, token) is True


def test_allocate__budget_is_per_token(bank, token, token_b, signer, campaign_id):
    bank.allocateCampaignBudget(campaign_id, token, 10, sender=signer)
    assert bank.isCampaignActive(campaign_id, token_b) is False


def test_allocate__reverts(bank, token, stranger, signer, campaign_id):
    with ape.reverts("bank: not manager"):
        bank.allocateCampaignBudget(campaign_id, token, 10, sender=stranger)
    with ape.reverts("bank: budget too large"):
        bank.allocateCampaignBudget(campaign_id, token, 2**254, sender=signer)
    bank.allocateCampaignBudget(campaign_id, token, 2**254 - 1, sender=signer)


def test_deactivate__stops_every_token_for_good(bank, token, token_b, signer, campaign_id):
    bank.allocateCampaignBudget(campaign_id, token, 10, sender=signer)
    bank.allocateCampaignBudget(campaign_id, token_b, 0, sender=signer)
    receipt = bank.deactivateCampaign(campaign_id, sender=signer)
    assert events(receipt) == [("CampaignDeactivated", {"campaignId": hexb(campaign_id)})]
    assert bank.isCampaignActive(campaign_id, token) is False
    assert bank.isCampaignActive(campaign_id, token_b) is False
    assert bank.getCampaignBudget(campaign_id, token_b) == 0
    with ape.reverts("bank: campaign deactivated"):
        bank.allocateCampaignBudget(campaign_id, token, 10, sender=signer)
    with ape.reverts("bank: campaign deactivated"):
        bank.deactivateCampaign(campaign_id, sender=signer)


def test_deactivate__manager_or_owner_only(bank, stranger, product_owner):
    campaign = random_bytes32()
    with ape.reverts("bank: not manager"):
        bank.deactivateCampaign(campaign, sender=stranger)
    bank.deactivateCampaign(campaign, sender=product_owner)
