"""Core contracts for a running process: given addresses are checked, embedded ones deployed.

On embedded defaults the anvil state persists under DATA_DIR, so addresses are
recorded in DATA_DIR/contracts.json and reused while code still lives there;
a fresh chain gets a fresh deployment.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from backend.core.config import ConfigError, Settings

log = logging.getLogger(__name__)


def _has_code(w3, address: str) -> bool:
    return len(w3.eth.get_code(w3.to_checksum_address(address))) > 0


def _recorded(path: Path, chain_id: int) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("chain_id") != chain_id:
        return None
    return {"push_pull": data["push_pull"], "bank_factory": data["bank_factory"]}


def ensure_core_contracts(settings: Settings, rpc_url: str) -> Settings:
    """Settings with PUSH_PULL_ADDRESS and BANK_FACTORY_ADDRESS usable on `rpc_url`."""
    from backend.chain.client import account, connect
    from backend.chain.deploy import deploy_core

    w3 = connect(rpc_url)
    given = {
        "PUSH_PULL_ADDRESS": settings.push_pull_address,
        "BANK_FACTORY_ADDRESS": settings.bank_factory_address,
    }
    if all(given.values()):
        for name, address in given.items():
            if not _has_code(w3, str(address)):
                raise ConfigError(f"{name}: no contract code at {address} on {rpc_url}")
        return settings
    if not settings.embedded_chain:
        missing = " and ".join(name for name, value in given.items() if not value)
        log.warning(
            "chain features disabled: %s unset (deploy with `cascade chain deploy`)", missing
        )
        return settings

    record = settings.data_dir / "contracts.json"
    chain_id = w3.eth.chain_id
    addresses = _recorded(record, chain_id)
    if addresses and all(_has_code(w3, a) for a in addresses.values()):
        log.info("reusing deployed contracts", extra=addresses)
    else:
        signer = account(settings.effective_signer_key()).address
        core = deploy_core(w3, settings.effective_deployer_key(), signer)
        addresses = {"push_pull": core["push_pull"], "bank_factory": core["bank_factory"]}
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"chain_id": chain_id, **addresses}, indent=2))
        log.info("deployed core contracts", extra=addresses)
    return settings.model_copy(
        update={
            "push_pull_address": w3.to_checksum_address(addresses["push_pull"]),
            "bank_factory_address": w3.to_checksum_address(addresses["bank_factory"]),
        }
    )
