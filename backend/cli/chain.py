"""`cascade chain ...`: the local chain and contract deployment."""

from __future__ import annotations

import json
import signal
import time

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, emit_json, fail, step
from backend.core.config import ConfigError
from backend.runtime.anvil import EmbeddedAnvil


@click.group()
def chain() -> None:
    """Local chain and contracts."""


@chain.command("up")
@click.option("--port", type=int, default=None, help="port to listen on (default: a free one)")
@handles_config_errors
def chain_up(port: int | None) -> None:
    """Start a local anvil chain, print its URL, run until Ctrl-C."""
    settings = get_settings()
    step("starting anvil (npm @foundry-rs/anvil)")
    anvil = EmbeddedAnvil(chain_id=settings.chain_id or 31337, port=port)
    url = anvil.start()
    done(f"local chain listening at {url} (chain id {anvil.chain_id})")
    click.echo(url)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and anvil.process is not None and anvil.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        step("stopping anvil")
        anvil.stop()


@chain.command("deploy")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print only {push_pull, bank_factory, account_factory}",
)
@click.option(
    "--signer",
    "signer_address",
    default=None,
    help="backend signer address made manager and distributor of new banks "
    "(default: the address of SIGNER_KEY / SIGNER_KEYSTORE)",
)
@handles_config_errors
def chain_deploy(as_json: bool, signer_address: str | None) -> None:
    """Deploy MultiTokenPushPull, ProductBankFactory and PasskeyAccountFactory.

    Deploys to RPC_URL with DEPLOYER_KEY; set the printed addresses as
    PUSH_PULL_ADDRESS, BANK_FACTORY_ADDRESS and ACCOUNT_FACTORY_ADDRESS. The
    chain must verify P-256 at 0x100 (passkey accounts). Without RPC_URL it deploys to
    the embedded anvil (its state persists under DATA_DIR) and records the
    addresses in DATA_DIR/contracts.json, where `cascade serve` reuses them.
    """
    from eth_utils import is_address, to_checksum_address

    from backend.chain.client import ChainRevert, account, connect
    from backend.chain.deploy import NO_P256_PRECOMPILE, deploy_core, has_p256_precompile
    from backend.runtime.services import embedded_services

    settings = get_settings()
    deployer_key = settings.effective_deployer_key()
    if signer_address is not None and not is_address(signer_address):
        raise ConfigError(f"--signer: not an address: {signer_address}")
    signer = to_checksum_address(signer_address or account(settings.effective_signer_key()).address)
    with embedded_services(settings, need_database=False) as endpoints:
        if endpoints.anvil is not None:
            step(f"embedded anvil at {endpoints.rpc_url} (state under {settings.data_dir})")
        try:
            w3 = connect(endpoints.rpc_url)
        except ConnectionError as exc:
            raise ConfigError(f"RPC_URL: {exc}") from exc
        chain_id = w3.eth.chain_id
        if settings.chain_id is not None and settings.chain_id != chain_id:
            raise ConfigError(f"CHAIN_ID is {settings.chain_id} but the node says {chain_id}")
        if not has_p256_precompile(w3):
            fail(NO_P256_PRECOMPILE)
            raise SystemExit(1)
        step(f"deploying core contracts on chain {chain_id} from {account(deployer_key).address}")
        try:
            addresses = deploy_core(w3, deployer_key, signer)
        except ChainRevert as exc:
            fail(f"deployment reverted: {exc}")
            raise SystemExit(1) from None
        if endpoints.anvil is not None:
            record = settings.data_dir / "contracts.json"
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps({"chain_id": chain_id, **addresses}, indent=2))
    if as_json:
        emit_json(dict(addresses))
        return
    done(f"MultiTokenPushPull  {addresses['push_pull']}")
    done(f"ProductBankFactory  {addresses['bank_factory']} (signer {signer})")
    done(f"PasskeyAccountFactory  {addresses['account_factory']}")
    click.echo(f"PUSH_PULL_ADDRESS={addresses['push_pull']}")
    click.echo(f"BANK_FACTORY_ADDRESS={addresses['bank_factory']}")
    click.echo(f"ACCOUNT_FACTORY_ADDRESS={addresses['account_factory']}")
