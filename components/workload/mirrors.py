"""The pull-through caches (`mirrors`): one registry instance per upstream, in the registry's pod.

Distribution proxies one upstream per instance (`proxy.remoteurl`), so each
mirror is a container of its own: the registry's image, binary, securityContext
and filtered log, its settings from the same ConfigMap but for its own listener
(127.0.0.1:MIRROR_PORTS_FROM + index, on the pod's loopback: only the front
reaches it) and its own place on the stack's storage (`<rootdirectory>/mirror/
<upstream>`, beside the registry's own `docker/` tree, which garbage collection
walks alone). Its config file, from a Secret of its own, holds the `proxy`
section: the upstream's URL, its credentials (only there: never in the
environment) and the TTL.

Distribution v3.1.1's proxy (registry/proxy): with `proxy.username`/`password`
(or neither) it asks the upstream's `/v2/` once as it starts, to find the
token realms the credentials are for, and panics when that fails: an upstream
down while the pod starts would leave the mirror crash-looping (the pod not
Ready, the stack's own registry out of the Service) and its cache unserved.
So the credentials come from `proxy.exec` instead, a credential helper in the
same Secret that answers only for the upstream's domain (what the realm check
did), run at each use (`lifetime: 0s`: the release keeps one answer for every
host otherwise); anonymous mirrors get empty credentials from it. The TTL
scheduler expires cached blobs and manifests by deleting them through the
storage, which answers "unsupported" unless `storage.delete.enabled`: the
mirrors have deletes on (no client can ask one: the front passes them reads
only). A proxy ignores `http.secret` (it takes no uploads), and it has no
debug listener here (the registry's metrics port is the registry's).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.settings import S3Storage, Settings
from components.settings.mirrors import Mirror
from components.workload.environment import (
    CONFIG_DIR,
    CONFIG_KEY,
    DATA_DIR,
)
from components.workload.front_mirrors import mirror_address

if TYPE_CHECKING:
    from components.workload.pod import PodInputs

# The credential helper (docker-credential-helper protocol: `<helper> get`, the host on stdin, JSON out).
HELPER_KEY = "credentials"
HELPER_FILE = f"{CONFIG_DIR}/{HELPER_KEY}"
_NO_CREDENTIALS = json.dumps({"Username": "", "Secret": ""})
# The registry's debug listener (metrics, pprof) stays the registry's: a mirror opens none.
MIRROR_LEFT_OUT = ("REGISTRY_HTTP_DEBUG_",)


def mirror_name(index: int) -> str:
    """The container's name, and its Secret's suffix."""
    return f"mirror-{index}"


def mirror_config_file(mirror: Mirror) -> str:
    """The mirror's own config file: the `proxy` section, its credentials from the helper beside it."""
    proxy = {"remoteurl": mirror.url, "exec": {"command": HELPER_FILE, "lifetime": "0s"}, "ttl": mirror.ttl}
    return yaml.safe_dump({"version": 0.1, "proxy": proxy}, sort_keys=False)


def credential_helper(mirror: Mirror) -> str:
    """The helper's script: the credentials for the upstream's domain (its API host's last two labels, as
    Distribution's realm check), none for any other host or for an anonymous mirror."""
    if mirror.username is None or mirror.password is None:
        return f"#!/bin/sh\necho '{_NO_CREDENTIALS}'\n"
    domain = ".".join((urlsplit(mirror.url).hostname or "").split(".")[-2:])
    credentials = json.dumps({"Username": mirror.username, "Secret": mirror.password})
    # A quoted here-document: nothing in it is expanded, and a JSON line is never its end marker.
    return (
        "#!/bin/sh\n"
        "read -r host || true\n"
        'case "$host" in\n'
        f"  {domain}|*.{domain}|{domain}:*|*.{domain}:*)\n"
        "    cat <<'END'\n"
        f"{credentials}\n"
        "END\n"
        "    ;;\n"
        f"  *) echo '{_NO_CREDENTIALS}' ;;\n"
        "esac\n"
    )


def mirror_config_data(mirror: Mirror) -> pulumi.Output[dict[str, str]]:
    """The mirror's Secret's data, a secret from the start: its config file and its credential helper."""
    return pulumi.Output.secret({CONFIG_KEY: mirror_config_file(mirror), HELPER_KEY: credential_helper(mirror)})


def mirror_overrides(settings: Settings, index: int, mirror: Mirror) -> dict[str, str]:
    """What differs from the registry's settings: its listener, its storage prefix, deletes (for the TTL)."""
    storage = settings.storage
    if isinstance(storage, S3Storage):
        root = (storage.root_directory or "").rstrip("/")
        place = {"REGISTRY_STORAGE_S3_ROOTDIRECTORY": f"{root}/{mirror.path}"}
    else:
        place = {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": f"{DATA_DIR}/{mirror.path}"}
    return {
        "REGISTRY_HTTP_ADDR": mirror_address(index),
        "REGISTRY_HTTP_DEBUG": "{}",
        **place,
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
    }


def mirror_volumes(pod: PodInputs) -> list[k8s.core.v1.VolumeArgs]:
    """Each mirror's config file (its own Secret) and scratch directory."""
    volumes = []
    for index, secret_name in enumerate(pod.mirror_secret_names):
        name = mirror_name(index)
        # The helper is run by the registry: readable and executable by the pod's group (fsGroup), not written.
        files = [
            k8s.core.v1.KeyToPathArgs(key=CONFIG_KEY, path=CONFIG_KEY),
            k8s.core.v1.KeyToPathArgs(key=HELPER_KEY, path=HELPER_KEY, mode=0o550),
        ]
        config = k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret_name, default_mode=0o440, items=files)
        scratch = k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")
        volumes += [
            k8s.core.v1.VolumeArgs(name=f"{name}-config", secret=config),
            k8s.core.v1.VolumeArgs(name=f"{name}-tmp", empty_dir=scratch),
        ]
    return volumes
