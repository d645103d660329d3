"""Stack settings: the `image-registry:` config keys as typed, validated models (pure Python)."""

from components.settings.access import NodeTrustSettings, TlsSettings, User
from components.settings.errors import SettingsError
from components.settings.maintenance import GarbageCollect, MaintenanceSettings
from components.settings.mirrors import Mirror
from components.settings.models import Settings
from components.settings.network import IngressSettings, MetricsSettings, NetworkPolicySettings
from components.settings.parse import parse_settings
from components.settings.project import DEFAULT_FRONT_IMAGE, DEFAULT_IMAGE, METRICS_PORT, PROJECT, REGISTRY_PORT
from components.settings.scheduling import Resources, Toleration
from components.settings.storage import EmptyDirStorage, PvcStorage, S3Storage

__all__ = [
    "DEFAULT_FRONT_IMAGE",
    "DEFAULT_IMAGE",
    "METRICS_PORT",
    "PROJECT",
    "REGISTRY_PORT",
    "EmptyDirStorage",
    "GarbageCollect",
    "IngressSettings",
    "MaintenanceSettings",
    "MetricsSettings",
    "Mirror",
    "NetworkPolicySettings",
    "NodeTrustSettings",
    "PvcStorage",
    "Resources",
    "S3Storage",
    "Settings",
    "SettingsError",
    "TlsSettings",
    "Toleration",
    "User",
    "parse_settings",
]
