"""Read this stack's config from the Pulumi engine and turn it into Settings."""

from __future__ import annotations

import pulumi
import pulumi.runtime.config as engine_config

from components.settings import PROJECT, Settings, SettingsError, parse_settings, project_config


def load_settings() -> Settings:
    """Validated settings, or a clean one-message failure before any resource exists."""
    # The CLI passes config in PULUMI_CONFIG; tests and the Automation API set it in-process.
    all_config = {**engine_config.get_config_env(), **engine_config.CONFIG.get()}
    prefix = f"{PROJECT}:"
    secret_keys = {
        key.removeprefix(prefix)
        for key in (*engine_config.get_config_secret_keys_env(), *engine_config._SECRET_KEYS.get())
        if key.startswith(prefix)
    }
    try:
        return parse_settings(project_config(all_config), secret_keys=secret_keys)
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
