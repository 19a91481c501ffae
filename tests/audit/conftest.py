from tests.products.fixtures import (  # noqa: F401
    api,
    chain_context,
    chain_settings,
    core,
    reward_token,
    usdc_token,
)
