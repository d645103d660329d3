"""Stack settings: the `image-registry:` config keys as typed, validated models (pure Python)."""

from components.settings.errors import SettingsError
from components.settings.models import (
    DEFAULT_IMAGE,
    PROJECT,
    REGISTRY_PORT,
    EmptyDirStorage,
    IngressSettings,
    PvcStorage,
    Settings,
    TlsSettings,
    User,
)
from components.settings.parse import parse_settings

__all__ = [
    "DEFAULT_IMAGE",
    "PROJECT",
    "REGISTRY_PORT",
    "EmptyDirStorage",
    "IngressSettings",
    "PvcStorage",
    "Settings",
    "SettingsError",
    "TlsSettings",
    "User",
    "parse_settings",
]
