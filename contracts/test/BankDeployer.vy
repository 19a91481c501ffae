# pragma version 0.4.3
# pragma evm-version cancun
"""
@title BankDeployer
@notice Deploys a ProductBank from its blueprint with whatever parameters a
        test chooses, so the bank constructor's own checks can be exercised
        (the real factory never hands out bad parameters).
@dev For tests only. Serves `bankParams()` like ProductBankFactory does while
     a deployment is in progress.
"""

from .. import IProductBankFactory

implements: IProductBankFactory

# ERC-5202 blueprint preamble (0xFE 0x71 0x00), skipped when deploying.
BLUEPRINT_PREAMBLE_LENGTH: constant(uint256) = 3

_params: IProductBankFactory.BankParams


@external
@view
def bankParams() -> IProductBankFactory.BankParams:
    """
    @notice The parameters of the bank being deployed.
    """
    return self._params


@external
def deploy(blueprint: address, params: IProductBankFactory.BankParams) -> address:
    """
    @notice Deploy a bank from `blueprint` whose constructor reads `params`.
    @return The new bank's address.
    """
    self._params = params
    return create_from_blueprint(blueprint, code_offset=BLUEPRINT_PREAMBLE_LENGTH)
