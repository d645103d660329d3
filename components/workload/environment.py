"""The registry's settings: environment variables from the ConfigMap, and one secret config file.

The registry serves plain HTTP on the pod's loopback: TLS and authentication
are the front's (front.py), in the same pod.

The registry reads `http.secret` only from its config file or the environment,
and a secret never goes into the environment: the pod passes its own config
file (from a Secret, holding only that) as the container's argument. So the
file the image ships (`registry:3.x`: deletes on, an unauthenticated debug
listener on :5001, an in-memory cache, debug logs) is never read; every
setting that matters is still set here explicitly, so the pod does what the
stack says whatever file the image or a custom command points at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi_kubernetes as k8s
import yaml

from components.settings import METRICS_PORT, S3Storage, Settings
from components.workload.front_config import DRAIN_SECONDS, UPSTREAM, upload_token_name

if TYPE_CHECKING:
    from components.workload.pod import PodInputs

DATA_DIR = "/var/lib/registry"
CONFIG_DIR = "/etc/registry/config"
CONFIG_KEY = "config.yml"
CONFIG_FILE = f"{CONFIG_DIR}/{CONFIG_KEY}"
# The registry's scratch directory (an emptyDir): its log's pipe, and what the storage driver writes there.
SCRATCH_DIR = "/tmp"
S3_CREDENTIALS_DIR = "/etc/registry/s3"
S3_CREDENTIALS_KEY = "credentials"
# An empty YAML string: the only value that turns the cache off without a warning (2.8 and 3.x).
NO_CACHE = '""'


# Whoever has an upload's `_state` token may act on the upload (send its data, complete or cancel it): the
# registry's output goes through awk, which removes every `_state=…` (its name as Go would decode it) and
# writes each line at once. busybox's awk, which both images have (mawk, say, would read its input a block
# at a time and hold lines back). The registry stays the container's main process (`exec`: it gets signals).
LOG_FILTER = f"""set -eu
log={SCRATCH_DIR}/registry-log-$$
rm -f "$log"
mkfifo -m 600 "$log"
busybox awk '{{ gsub(/{upload_token_name()}=[^&" ]*/, ""); print; fflush() }}' <"$log" &
exec registry serve "$@" >"$log" 2>&1
"""


@dataclass(frozen=True)
class RegistrySetting:
    """One setting: its environment variable, its key in the ConfigMap, its value."""

    variable: str
    key: str
    value: str


def secret_config_file(http_secret: str) -> str:
    """The registry's own config file: only what must not be in the environment."""
    return yaml.safe_dump({"version": 0.1, "http": {"secret": http_secret}}, sort_keys=False)


def registry_settings(settings: Settings) -> tuple[RegistrySetting, ...]:
    values = {
        # Loopback only: every client goes through the front, which authenticates.
        "REGISTRY_HTTP_ADDR": UPSTREAM,
        # On SIGTERM, requests in flight finish (as long as the front lets its own finish).
        "REGISTRY_HTTP_DRAINTIMEOUT": f"{DRAIN_SECONDS}s",
        "REGISTRY_HTTP_HEADERS": json.dumps({"X-Content-Type-Options": ["nosniff"]}),
        **_debug_listener(settings),
        **_storage(settings),
        **_logging(),
        # registry 3.0.x images try to export traces unless told not to.
        "OTEL_TRACES_EXPORTER": "none",
    }
    return tuple(RegistrySetting(variable, _config_map_key(variable), value) for variable, value in values.items())


def _logging() -> dict[str, str]:
    """Warnings and errors only (a storage failure, an error answered), no line per request (its access log,
    its `info` "response completed" lines): the front's access log is the record of every request. Every line
    of a request names its URL, an upload's `_state` token and all, even an error's (a cancelled upload logs
    one): `LOG_FILTER` takes the token out of what remains."""
    return {"REGISTRY_LOG_LEVEL": "warn", "REGISTRY_LOG_ACCESSLOG_DISABLED": "true"}


def _debug_listener(settings: Settings) -> dict[str, str]:
    if not settings.metrics.enabled:
        # The whole debug block emptied: no listener (it also serves pprof), no instrumentation.
        return {"REGISTRY_HTTP_DEBUG": "{}"}
    return {
        "REGISTRY_HTTP_DEBUG_ADDR": f":{METRICS_PORT}",
        "REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED": "true",
        "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH": "/metrics",
    }


def _storage(settings: Settings) -> dict[str, str]:
    storage = settings.storage
    values = _s3(storage) if isinstance(storage, S3Storage) else {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": DATA_DIR}
    return {
        **values,
        # htpasswd gives every user push rights: deletes stay off unless the stack asks.
        "REGISTRY_STORAGE_DELETE_ENABLED": json.dumps(storage.delete_enabled),
        # A per-pod cache goes stale when another replica changes the storage.
        "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR": "inmemory" if settings.replicas == 1 else NO_CACHE,
        # The JSON form: the leaf form (…_READONLY_ENABLED) makes the registry panic.
        "REGISTRY_STORAGE_MAINTENANCE_READONLY": json.dumps({"enabled": settings.maintenance.read_only}),
        # Unhealthy storage turns every answer, the probes' included, into 503.
        "REGISTRY_HEALTH_STORAGEDRIVER_ENABLED": "true",
        "REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL": "10s",
        "REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD": "3",
    }


def _s3(storage: S3Storage) -> dict[str, str]:
    values = {
        "REGISTRY_STORAGE_S3_BUCKET": storage.bucket,
        "REGISTRY_STORAGE_S3_REGION": storage.region,
        "REGISTRY_STORAGE_S3_FORCEPATHSTYLE": json.dumps(storage.path_style),
        "REGISTRY_STORAGE_S3_ENCRYPT": json.dumps(storage.encrypt),
        "REGISTRY_STORAGE_S3_SECURE": json.dumps(storage.secure),
    }
    # Blobs go through the registry, not a redirect to the store: clients need no route to it.
    values["REGISTRY_STORAGE_REDIRECT_DISABLE"] = "true"
    if storage.region_endpoint is not None:
        values["REGISTRY_STORAGE_S3_REGIONENDPOINT"] = storage.region_endpoint
    if storage.root_directory is not None:
        values["REGISTRY_STORAGE_S3_ROOTDIRECTORY"] = storage.root_directory
    if storage.access_key is not None or storage.credentials_secret is not None:
        # The AWS SDK's shared credentials file, from a Secret volume: never the keys themselves.
        values["AWS_SHARED_CREDENTIALS_FILE"] = f"{S3_CREDENTIALS_DIR}/{S3_CREDENTIALS_KEY}"
    return values


def _config_map_key(variable: str) -> str:
    """REGISTRY_HTTP_TLS_KEY -> httpTlsKey: the manual install's naming of ConfigMap keys."""
    words = variable.removeprefix("REGISTRY_").lower().split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def registry_environment(
    pod: PodInputs, values: dict[str, str], left_out: tuple[str, ...] = ()
) -> list[k8s.core.v1.EnvVarArgs]:
    """The ConfigMap's settings, but those `values` sets (as literal values) and those whose name starts with
    one of `left_out`."""
    from_config_map = [
        k8s.core.v1.EnvVarArgs(
            name=setting.variable,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                config_map_key_ref=k8s.core.v1.ConfigMapKeySelectorArgs(name=pod.config_map_name, key=setting.key)
            ),
        )
        for setting in pod.environment
        if setting.variable not in values and not setting.variable.startswith(left_out)
    ]
    return [*from_config_map, *(k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in values.items())]
