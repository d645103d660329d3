"""The registry's front: TLS and htpasswd authentication in the pod, in a Caddy container, its checks cached.

The registry checks the bcrypt hash of the credentials on every request, with
no cache (distribution#3017): tens of milliseconds of CPU per request at cost
10, and clients make many small requests. Caddy's `http_basic` keeps the
outcome of each check (`hash_cache`): a credential costs one bcrypt check,
then nothing. It terminates TLS with the server certificate, leaves `GET /`
open for probes, as the registry does, and proxies everything to the
registry, which listens on the pod's loopback only and so cannot be reached
around it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.kube import container_security
from components.settings import REGISTRY_PORT, Settings

UPSTREAM = "127.0.0.1:5002"
CONFIG_DIR = "/etc/caddy/config"
CONFIG_KEY = "caddy.json"
TLS_DIR = "/etc/caddy/tls"
TMP_DIR = "/tmp"


def front_config(accounts: Sequence[tuple[str, str]], realm: str) -> str:
    """Caddy's configuration (JSON): `accounts` are (user, bcrypt hash) pairs."""
    # Larger than Go's 4 KiB default: fewer writes per pushed layer (about a tenth less CPU in the front).
    transport = {"protocol": "http", "read_buffer_size": 65536, "write_buffer_size": 65536}
    proxy = {"handler": "reverse_proxy", "upstreams": [{"dial": UPSTREAM}], "transport": transport}
    authentication = {
        "handler": "authentication",
        "providers": {
            "http_basic": {
                "hash": {"algorithm": "bcrypt"},
                "hash_cache": {},
                "realm": realm,
                "accounts": [{"username": user, "password": hashed} for user, hashed in accounts],
            }
        },
    }
    # Clients look for this header on the 401 too, which Caddy answers itself.
    version = {"handler": "headers", "response": {"set": {"Docker-Distribution-Api-Version": ["registry/2.0"]}}}
    # The registry's own answer to missing or wrong credentials: clients show its message.
    unauthorized = {
        "match": [{"expression": "{http.error.status_code} == 401"}],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 401,
                "headers": {"Content-Type": ["application/json; charset=utf-8"]},
                "body": json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}),
            }
        ],
    }
    server = {
        "listen": [f":{REGISTRY_PORT}"],
        "errors": {"routes": [unauthorized]},
        "automatic_https": {"disable": True},
        "tls_connection_policies": [{"certificate_selection": {"any_tag": ["registry"]}, "protocol_min": "tls1.2"}],
        "routes": [
            # The registry answers GET / without credentials: probes and clients' pings use it.
            {"match": [{"path": ["/"]}], "handle": [proxy], "terminal": True},
            {"handle": [version, authentication, proxy]},
        ],
    }
    certificate = {"certificate": f"{TLS_DIR}/tls.crt", "key": f"{TLS_DIR}/tls.key", "tags": ["registry"]}
    config = {
        "admin": {"disabled": True, "config": {"persist": False}},
        "logging": {"logs": {"default": {"level": "WARN"}}},
        "apps": {
            "http": {"servers": {"registry": server}},
            "tls": {"certificates": {"load_files": [certificate]}, "disable_ocsp_stapling": True},
        },
    }
    return json.dumps(config, indent=2, sort_keys=True)


def front_container(settings: Settings) -> k8s.core.v1.ContainerArgs:
    # A new user or password reaches the config file; `--watch` reloads it, no restart.
    https = k8s.core.v1.HTTPGetActionArgs(path="/", port="https", scheme="HTTPS")
    return k8s.core.v1.ContainerArgs(
        name="front",
        image=settings.front_image,
        image_pull_policy="IfNotPresent",
        command=["caddy", "run", "--config", f"{CONFIG_DIR}/{CONFIG_KEY}", "--watch"],
        # The image's /config and /data are on its read-only root: Caddy writes nothing worth keeping.
        env=[
            k8s.core.v1.EnvVarArgs(name="XDG_CONFIG_HOME", value=f"{TMP_DIR}/caddy-config"),
            k8s.core.v1.EnvVarArgs(name="XDG_DATA_HOME", value=f"{TMP_DIR}/caddy-data"),
        ],
        ports=[k8s.core.v1.ContainerPortArgs(name="https", container_port=REGISTRY_PORT, protocol="TCP")],
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="front-config", mount_path=CONFIG_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tls", mount_path=TLS_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="front-tmp", mount_path=TMP_DIR),
        ],
        # Ready when the registry behind it answers; alive while it accepts connections.
        readiness_probe=k8s.core.v1.ProbeArgs(http_get=https, period_seconds=10, failure_threshold=3),
        liveness_probe=k8s.core.v1.ProbeArgs(
            tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="https"), initial_delay_seconds=10, period_seconds=20
        ),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            # Every byte passes through it (TLS both ways): the same CPU share as the registry's default.
            requests={"cpu": "100m", "memory": "64Mi"},
            limits={"cpu": "1", "memory": "256Mi"},
        ),
        # The image's caddy binary carries the file capability cap_net_bind_service=+ep: without it in
        # the bounding set the kernel refuses to run it (caddy-docker#396). The restricted Pod Security
        # profile allows adding this one; OpenShift's restricted-v2 does not (see README).
        security_context=container_security(add_capabilities=("NET_BIND_SERVICE",)),
    )


def front_volumes(config_secret_name: pulumi.Input[str]) -> list[k8s.core.v1.VolumeArgs]:
    return [
        k8s.core.v1.VolumeArgs(
            name="front-config",
            secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=config_secret_name, default_mode=0o440),
        ),
        k8s.core.v1.VolumeArgs(name="front-tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
    ]
