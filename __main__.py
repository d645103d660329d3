"""image-registry: a private, TLS-secured image registry for a Kubernetes cluster."""

import pulumi
import pulumi.runtime.config as engine_config

from components.registry_stack import RegistryStack, RegistryStackArgs
from components.settings import SettingsError, parse_settings, project_config

try:
    settings = parse_settings(project_config({**engine_config.get_config_env(), **engine_config.CONFIG.get()}))
except SettingsError as error:
    # A clean one-message failure, raised before any resource is registered.
    raise pulumi.RunError(str(error)) from None

registry = RegistryStack("image-registry", RegistryStackArgs(settings=settings))

for output_name, value in registry.outputs().items():
    pulumi.export(output_name, value)
