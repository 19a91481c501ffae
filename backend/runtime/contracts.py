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
_NAMES = ("push_pull", "bank_factory", "account_factory")


def _has_code(w3, address: str) -> bool:
    return len(w3.eth.get_code(w3.to_checksum_address(address))) > 0


def _recorded(path: Path, chain_id: int) -> dict[str, str]:
    """Recorded addresses on this chain; a record from before passkey accounts lacks
    account_factory (one is then deployed, the rest kept)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if data.get("chain_id") != chain_id:
        return {}
    return {name: data[name] for name in _NAMES if isinstance(data.get(name), str)}


def ensure_core_contracts(settings: Settings, rpc_url: str) -> Settings:
    """Settings with PUSH_PULL_ADDRESS, BANK_FACTORY_ADDRESS and ACCOUNT_FACTORY_ADDRESS
    usable on `rpc_url`: given ones must have code; on embedded defaults the missing
    ones are reused from DATA_DIR/contracts.json or deployed."""
    from backend.chain.client import account, connect
    from backend.chain.deploy import deploy_account_factory, deploy_core

    w3 = connect(rpc_url)
    given = {
        "PUSH_PULL_ADDRESS": settings.push_pull_address,
        "BANK_FACTORY_ADDRESS": settings.bank_factory_address,
        "ACCOUNT_FACTORY_ADDRESS": settings.account_factory_address,
    }
    for name, address in given.items():
        if address and not _has_code(w3, str(address)):
            raise ConfigError(f"{name}: no contract code at {address} on {rpc_url}")
    if all(given.values()):
        return settings
    if not settings.embedded_chain:
        missing = " and ".join(name for name, value in given.items() if not value)
        log.warning(
            "chain features disabled: %s unset (deploy with `cascade chain deploy`)", missing
        )
        return settings

    record = settings.data_dir / "contracts.json"
    chain_id = w3.eth.chain_id
    recorded = _recorded(record, chain_id)
    live = {name: address for name, address in recorded.items() if _has_code(w3, address)}
    key = settings.effective_deployer_key()
    addresses: dict[str, str]
    # The push-pull and the bank factory are wired together: they come as a pair.
    if settings.push_pull_address and settings.bank_factory_address:
        addresses = {
            "push_pull": settings.push_pull_address,
            "bank_factory": settings.bank_factory_address,
        }
    elif "push_pull" in live and "bank_factory" in live:
        addresses = {"push_pull": live["push_pull"], "bank_factory": live["bank_factory"]}
    else:
        signer = account(settings.effective_signer_key()).address
        core = deploy_core(w3, key, signer)
        addresses = {
            "push_pull": core["push_pull"],
            "bank_factory": core["bank_factory"],
            "account_factory": core["account_factory"],
        }
    if settings.account_factory_address:
        addresses["account_factory"] = settings.account_factory_address
    elif "account_factory" not in addresses:
        addresses["account_factory"] = live.get("account_factory") or deploy_account_factory(
            w3, key
        )
    if addresses != recorded:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"chain_id": chain_id, **addresses}, indent=2))
        log.info("deployed core contracts", extra=addresses)
    else:
        log.info("reusing deployed contracts", extra=addresses)
    return settings.model_copy(
        update={
            "push_pull_address": w3.to_checksum_address(addresses["push_pull"]),
            "bank_factory_address": w3.to_checksum_address(addresses["bank_factory"]),
            "account_factory_address": w3.to_checksum_address(addresses["account_factory"]),
        }
    )
