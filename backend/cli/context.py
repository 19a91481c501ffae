"""What every command needs: settings loaded once, errors turned into clean exits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from backend.cli.output import fail
from backend.core.config import ConfigError, Settings, load_settings
from backend.core.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])


def get_settings() -> Settings:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "settings" not in root.obj:
        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        root.obj["settings"] = settings
    return root.obj["settings"]


def handles_config_errors(func: F) -> F:
    """Turn a ConfigError into `error: <message>` and exit code 2, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]
