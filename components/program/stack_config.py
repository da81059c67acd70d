"""Settings from the Pulumi engine's config (the program's side of `load_settings`)."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi.runtime import config as runtime_config

from components.databases import KEYSTORE_PASSWORD_SECRET, KEYSTORE_SECRET
from components.render import alias_keystore as render_alias_keystore
from components.settings import NAMESPACE, ConfigError, Settings, load_settings


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


@dataclass(frozen=True)
class AliasKeystore:
    """The keystore remote aliases need (components/databases.py), from the stack's secret config."""
    keystore_base64: pulumi.Output[str]  # secret: the PKCS12 file, base64
    password: pulumi.Output[str]  # secret


def alias_keystore(settings: Settings) -> AliasKeystore | None:
    """None where no server carries the keystore settings (render.alias_keystore). Read from config, never made
    here: a later `pulumi up` hands the servers the same key, so the passwords stored with it stay readable. A stack
    with a remote alias and no keystore is refused before any resource (`make plan` lists the keys as MISSING)."""
    if render_alias_keystore(settings) is None:
        return None
    config = pulumi.Config(NAMESPACE)
    problems = []
    for key in (KEYSTORE_SECRET, KEYSTORE_PASSWORD_SECRET):
        value = pulumi.runtime.get_config(config.full_key(key))
        if not value:
            problems.append(f"{NAMESPACE}:{key}: not set; remote aliases of {NAMESPACE}:composites need it on every "
                            f"server: scripts/databases.py --stack {settings.stack} --create-alias-keystore sets it")
    if problems:
        raise pulumi.RunError("invalid stack config:\n" + "\n".join(problems))  # no traceback, no secret
    return AliasKeystore(config.require_secret(KEYSTORE_SECRET), config.require_secret(KEYSTORE_PASSWORD_SECRET))
