"""Settings from the Pulumi engine's config (the program's side of `load_settings`)."""
from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from components.settings import ConfigError, Settings, load_settings


def engine_config() -> dict[str, str]:
    """Every config key the engine gave this program, as "namespace:key" → text."""
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def settings_from_engine() -> Settings:
    try:
        # The engine hands secrets over decrypted, so they are not plain text in the stack file.
        return load_settings(pulumi.get_stack(), engine_config(), decrypted=True)
    except ConfigError as error:
        # RunError ends the program with these lines and no traceback.
        raise pulumi.RunError("invalid stack config:\n" + "\n".join(error.problems)) from None
