"""image-registry: a private, TLS-secured image registry for a Kubernetes cluster."""

import pulumi

from components.registry_stack import RegistryStack, RegistryStackArgs
from components.settings.source import load_settings

settings = load_settings()
registry = RegistryStack("image-registry", RegistryStackArgs(settings=settings))

for output_name, value in registry.outputs().items():
    pulumi.export(output_name, value)
