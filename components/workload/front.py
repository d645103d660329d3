"""The registry's front: TLS and authentication in the pod, in a Caddy container, its checks cached.

The registry checks the bcrypt hash of the credentials on every request, with
no cache (distribution#3017): tens of milliseconds of CPU per request at cost
10, and clients make many small requests. Caddy's `http_basic` keeps the
outcome of each check (`hash_cache`): a credential costs one bcrypt check,
then nothing. It terminates TLS with the server certificate, decides who may
do what (front_access.py), and proxies to the registry, which listens on the
pod's loopback only and so cannot be reached around it. Its configuration is
front_config.py.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kube import container_security
from components.settings import REGISTRY_PORT, Settings
from components.workload.front_config import ADMIN_SOCKET, DRAIN_SECONDS, TLS_DIR, TMP_DIR

CONFIG_DIR = "/etc/caddy/config"
CONFIG_KEY = "caddy.json"
# Caddy's own `--watch` gives up for good after one unreadable or invalid file. This loop offers each new
# version of the mounted file to the running front once (`caddy reload` over its private socket): Caddy
# applies it whole or refuses it and keeps serving the config it has, and the next version is tried anew.
# It ends with the front, whose process it follows (`exec`: Caddy is the container's main process and gets
# its signals).
RELOAD_INTERVAL_SECONDS = 5
# `caddy reload` waits for as long as the admin socket does not answer. A reload answers once the old
# config's requests have drained (up to the grace period) and it is applied; past that, the front is stuck:
# the reload is given up, and the same file offered again later, so that no reload blocks the next ones.
RELOAD_TIMEOUT_SECONDS = DRAIN_SECONDS + 30
RELOAD_SCRIPT = f"""set -u
config={CONFIG_DIR}/{CONFIG_KEY}
tried={TMP_DIR}/caddy-tried.json
front=$$
cp -f "$config" "$tried"
(
  while sleep {RELOAD_INTERVAL_SECONDS} && kill -0 "$front" 2>/dev/null; do
    if ! cmp -s "$config" "$tried" && cp -f "$config" "$tried"; then
      timeout {RELOAD_TIMEOUT_SECONDS} caddy reload --config "$tried" --address "unix/{ADMIN_SOCKET}"
      case $? in
        0) ;;
        # timeout's own status (124), or busybox's: the reload's, killed by SIGTERM (143).
        124|143) echo "front: no answer to the reload in {RELOAD_TIMEOUT_SECONDS}s" >&2; rm -f "$tried" ;;
        *) echo "front: kept the running config" >&2 ;;
      esac
    fi
  done
) &
exec caddy run --config "$config"
"""


def front_container(settings: Settings) -> k8s.core.v1.ContainerArgs:
    https = k8s.core.v1.HTTPGetActionArgs(path="/", port="https", scheme="HTTPS")
    return k8s.core.v1.ContainerArgs(
        name="front",
        image=settings.front_image,
        image_pull_policy="IfNotPresent",
        command=["/bin/sh", "-c", RELOAD_SCRIPT],
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


def front_volumes(
    config_secret_name: pulumi.Input[str], tls_secret_name: pulumi.Input[str]
) -> list[k8s.core.v1.VolumeArgs]:
    # The server certificate and key, and the CA that signed the ingress controller's client certificate.
    tls = k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=tls_secret_name,
        default_mode=0o440,
        items=[k8s.core.v1.KeyToPathArgs(key=key, path=key) for key in ("tls.crt", "tls.key", "ca.crt")],
    )
    return [
        k8s.core.v1.VolumeArgs(
            name="front-config",
            secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=config_secret_name, default_mode=0o440),
        ),
        k8s.core.v1.VolumeArgs(name="tls", secret=tls),
        k8s.core.v1.VolumeArgs(name="front-tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
    ]
