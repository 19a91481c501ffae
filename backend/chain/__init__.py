"""On-chain side of Cascade for the backend: artifacts, deployment, a web3 client.

Never imports ape (slow, heavy): contracts are compiled with the `vyper`
package and driven with web3.py and eth-account.
"""

from backend.chain.artifacts import ContractArtifact, load_artifact, load_contract
from backend.chain.client import ChainRevert, account, connect, contract, send
from backend.chain.deploy import (
    CoreAddresses,
    deploy_bank,
    deploy_blueprint,
    deploy_contract,
    deploy_core,
    deploy_test_token,
)
from backend.chain.reverts import REVERTS, classify

__all__ = [
    "REVERTS",
    "ChainRevert",
    "ContractArtifact",
    "CoreAddresses",
    "account",
    "classify",
    "connect",
    "contract",
    "deploy_bank",
    "deploy_blueprint",
    "deploy_contract",
    "deploy_core",
    "deploy_test_token",
    "load_artifact",
    "load_contract",
    "send",
]
