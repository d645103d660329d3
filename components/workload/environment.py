"""The registry's settings, as the environment variables that override its image's config file.

The `registry:3.x` image's own file (/etc/distribution/config.yml) turns deletes
on, opens an unauthenticated debug listener (:5001: pprof, expvar, metrics),
keeps an in-memory blob descriptor cache and logs at debug level. Every one of
those is overridden here explicitly, so the pod does what the stack says
whatever file the image ships.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from components.settings import REGISTRY_PORT

TLS_DIR = "/etc/registry/tls"
AUTH_DIR = "/auth"
HTPASSWD_KEY = "htpasswd"
DATA_DIR = "/var/lib/registry"
HTTP_SECRET_KEY = "httpSecret"
# An empty YAML string: the only value that turns the cache off without a warning (2.8 and 3.x).
NO_CACHE = '""'


@dataclass(frozen=True)
class RegistrySetting:
    """One setting: its environment variable, its key in the ConfigMap, its value."""

    variable: str
    key: str
    value: str


def registry_settings(*, realm: str, replicas: int, delete_enabled: bool) -> tuple[RegistrySetting, ...]:
    setting = RegistrySetting
    return (
        setting("REGISTRY_HTTP_ADDR", "httpAddr", f":{REGISTRY_PORT}"),
        setting("REGISTRY_HTTP_TLS_CERTIFICATE", "httpTlsCertificate", f"{TLS_DIR}/tls.crt"),
        setting("REGISTRY_HTTP_TLS_KEY", "httpTlsKey", f"{TLS_DIR}/tls.key"),
        setting("REGISTRY_HTTP_TLS_MINIMUMTLS", "httpTlsMinimumTls", "tls1.2"),
        setting("REGISTRY_HTTP_HEADERS", "httpHeaders", json.dumps({"X-Content-Type-Options": ["nosniff"]})),
        # The whole debug block emptied: no listener, no Prometheus instrumentation.
        setting("REGISTRY_HTTP_DEBUG", "httpDebug", "{}"),
        setting("REGISTRY_AUTH", "authType", "htpasswd"),
        setting("REGISTRY_AUTH_HTPASSWD_REALM", "authHtpasswdRealm", realm),
        setting("REGISTRY_AUTH_HTPASSWD_PATH", "authHtpasswdPath", f"{AUTH_DIR}/{HTPASSWD_KEY}"),
        setting("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "storageFilesystemRootDirectory", DATA_DIR),
        # htpasswd gives every user push rights: deletes stay off unless the stack asks.
        setting("REGISTRY_STORAGE_DELETE_ENABLED", "storageDeleteEnabled", json.dumps(delete_enabled)),
        # A per-pod cache goes stale when another replica changes the storage.
        setting(
            "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR",
            "storageCacheBlobDescriptor",
            "inmemory" if replicas == 1 else NO_CACHE,
        ),
        setting("REGISTRY_LOG_LEVEL", "logLevel", "info"),
        # registry 3.0.x images try to export traces unless told not to.
        setting("OTEL_TRACES_EXPORTER", "otelTracesExporter", "none"),
    )
