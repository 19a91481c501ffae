"""backend.chain deploys the same wiring the ape fixtures build (web3 path, no ape)."""

from __future__ import annotations

from ape import accounts, chain, project
from eth_utils import keccak

from backend.chain import (
    ChainRevert,
    contract,
    deploy_bank,
    deploy_core,
    deploy_test_token,
    load_artifact,
    send,
)
from backend.settlement import eip712
from tests.contracts.conftest import DISTRIBUTOR_ROLE, random_bytes32


def test_deploy_core__wired_and_able_to_pay_a_batch():
    w3 = chain.provider.web3
    deployer, backend_signer, owner, user = (accounts.test_accounts[i] for i in (6, 7, 8, 9))
    core = deploy_core(w3, deployer.private_key, backend_signer.address)
    push_pull = contract(w3, "MultiTokenPushPull", core["push_pull"])
    factory = contract(w3, "ProductBankFactory", core["bank_factory"])
    assert push_pull.functions.factory().call() == core["bank_factory"]
    assert push_pull.functions.owner().call() == deployer.address
    assert factory.functions.signer().call() == backend_signer.address
    assert factory.functions.bankInitcodeHash().call() == keccak(
        load_artifact("ProductBank").bytecode
    )

    product_id = random_bytes32()
    bank_address = deploy_bank(
        w3, backend_signer.private_key, core["bank_factory"], product_id, owner.address
    )
    assert bank_address == factory.functions.predictBankAddress(product_id).call()
    bank = contract(w3, "ProductBank", bank_address)
    assert bank.functions.hasRole(DISTRIBUTOR_ROLE, backend_signer.address).call()

    token_address = deploy_test_token(
        w3, deployer.private_key, "Demo", "DMO", 6, kind="NoBoolToken"
    )
    token = contract(w3, "NoBoolToken", token_address)
    send(w3, deployer.private_key, token.functions.mint(bank_address, 1_000))
    campaign = random_bytes32()
    send(
        w3,
        backend_signer.private_key,
        bank.functions.allocateCampaignBudget(campaign, token_address, 0, 600),
    )
    fields = {
        "chain_id": w3.eth.chain_id,
        "bank_address": bank_address,
        "campaign_id": campaign,
        "token": token_address,
        "nonce": eip712.new_nonce(),
        "deadline": chain.pending_timestamp + 3600,
    }
    typed = eip712.push_rewards_typed_data(**fields, rewards=[(user.address, 700)])
    signature = eip712.sign_push(backend_signer.private_key, typed)
    try:
        send(
            w3,
            backend_signer.private_key,
            bank.functions.pushRewards(*eip712.push_call_args(typed, signature)),
        )
    except ChainRevert as exc:
        assert exc.code == "budget_exceeded"
    else:
        raise AssertionError("a batch over budget was paid")

    typed = eip712.push_rewards_typed_data(**fields, rewards=[(user.address, 600)])
    signature = eip712.sign_push(backend_signer.private_key, typed)
    receipt = send(
        w3, user.private_key, bank.functions.pushRewards(*eip712.push_call_args(typed, signature))
    )
    assert receipt["status"] == 1
    assert push_pull.functions.getPendingAmount(token_address, user.address).call() == 600
    # ape sees the same contract through the same ABI.
    assert project.MultiTokenPushPull.at(core["push_pull"]).getTotalPending(token_address) == 600
