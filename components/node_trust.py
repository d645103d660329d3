"""NodeTrust: a DaemonSet that makes every node's container runtime trust the registry's CA.

On each node it writes, for each external hostname, what that node's runtime
reads (components/node_layouts.py finds it per node): containerd's
`<config_path>/<host>/hosts.toml` and `ca.crt` (read on every pull, no
restart), Docker's `/etc/docker/certs.d/<host>/ca.crt`. On k3s and RKE2 a
`hosts.toml` in the directory their containerd is pointed at is theirs
(generated from registries.yaml), and each time they start they remove
`<certs.d>/<host>` for every host of registries.yaml, whatever else it holds
(k3s's `cleanContainerdHosts`). So there it writes the CA that registries.yaml
names (`k3s_registries_yaml`) in a directory of its own beside that file, which
k3s never cleans, and a lone `ca.crt` in `<certs.d>/<host>` too (containerd reads
it where no `hosts.toml` is: nodes without the registries.yaml). It rewrites
what has changed every few seconds, so a file removed by a person comes back.

With `mirrors`, each upstream's hosts.toml (the cache first, with the mirror
user's `Authorization` header) comes from a Secret of its own, mounted 0400 and
written 0600: the ConfigMap and the environment hold no credential.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube import labels_for, object_metadata
from components.node_layouts import (
    CONFIG_DIR,
    DOCKER_CERTS,
    HOST,
    INTERVAL_SECONDS,
    MIRROR_MARK,
    MIRRORS_DIR,
    RANCHER_DIRS,
    SCRIPT,
    STATUS_DIR,
    HostDirectory,
    host_directories,
    hosts_toml,
    mirror_hosts_toml,
)
from components.settings import Settings


@dataclass(frozen=True)
class NodeTrustArgs:
    settings: Settings
    ca_cert_pem: pulumi.Input[str]
    # The mirror user's password (a secret), with `mirrors`: its `Authorization` header goes on every node.
    mirror_password: pulumi.Input[str] | None = None


class NodeTrust(pulumi.ComponentResource):
    """Its own privileged-level namespace (hostPath is refused under baseline), a ConfigMap, the DaemonSet."""

    def __init__(self, name: str, args: NodeTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:NodeTrust", name, None, opts)
        settings = args.settings
        base = f"{settings.name}-node-trust"
        namespace = k8s.core.v1.Namespace(
            f"{base}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=base,
                labels={**labels_for(settings.name), "pod-security.kubernetes.io/enforce": "privileged"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        files = {f"{host}.toml": hosts_toml(host) for host in settings.hostnames}
        # Auto-named: a new CA is a new ConfigMap, which rolls the DaemonSet and rewrites every node at once.
        config_map = k8s.core.v1.ConfigMap(
            f"{base}-files",
            metadata=object_metadata(settings.name, namespace.metadata.name),
            data=pulumi.Output.from_input(args.ca_cert_pem).apply(lambda pem: {"ca.crt": pem, **files}),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data"]),
        )
        mirrors = self._mirrors_secret(base, args, namespace.metadata.name)
        directories = host_directories(settings)
        environment = {
            "PLATFORM": settings.node_trust.platform or "",
            "RANCHER_PLATFORMS": " ".join(RANCHER_DIRS),
            "STACK_NAME": settings.name,
            "TRUST_HOSTS": " ".join(settings.hostnames),
            "WRITABLE_DIRS": " ".join(directory.path for directory in directories if directory.writable),
            "DOCKER_CERTS": DOCKER_CERTS,
            "HOST": HOST,
            "CONFIG_DIR": CONFIG_DIR,
            "STATUS_DIR": STATUS_DIR,
            "INTERVAL": str(INTERVAL_SECONDS),
            # Names only: the files (and their credential) are in the mirrors Secret.
            "MIRRORS": " ".join(mirror.upstream for mirror in settings.mirrors),
            "MIRRORS_DIR": MIRRORS_DIR,
            # The first line of ours: a hosts.toml with it, of an upstream no longer listed, is removed.
            "MIRROR_MARK": MIRROR_MARK,
        }
        labels = {**labels_for(settings.name), "app.kubernetes.io/component": "node-trust"}
        # It needs no network at all: none in, none out.
        k8s.networking.v1.NetworkPolicy(
            f"{base}-network-policy",
            metadata=object_metadata(settings.name, namespace.metadata.name, "node-trust"),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels), policy_types=["Ingress", "Egress"]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.apps.v1.DaemonSet(
            f"{base}-daemon-set",
            metadata=object_metadata(settings.name, namespace.metadata.name, "node-trust"),
            spec=k8s.apps.v1.DaemonSetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=_pod_spec(settings.image, environment, directories, config_map.metadata.name, mirrors),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})

    def _mirrors_secret(
        self, base: str, args: NodeTrustArgs, namespace: pulumi.Input[str]
    ) -> pulumi.Output[str] | None:
        """The mirrors' hosts.toml files, `<upstream>.toml`: they carry the mirror user's credentials."""
        settings, user = args.settings, args.settings.mirror_user
        if user is None:
            return None
        assert args.mirror_password is not None, "mirrors need the mirror user's password"
        host = settings.hostnames[0]

        def files(password: str) -> dict[str, str]:
            token = base64.b64encode(f"{user.name}:{password}".encode()).decode()
            return {
                f"{each.upstream}.toml": mirror_hosts_toml(each, host, f"Basic {token}") for each in settings.mirrors
            }

        # Auto-named, like the ConfigMap: a new password or hostname rolls the DaemonSet.
        secret = k8s.core.v1.Secret(
            f"{base}-mirrors",
            metadata=object_metadata(settings.name, namespace),
            type="Opaque",
            string_data=pulumi.Output.secret(args.mirror_password).apply(files),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data", "stringData"]),
        )
        return secret.metadata.name


def _volumes(
    directories: list[HostDirectory], config_map: pulumi.Input[str], mirrors_secret: pulumi.Input[str] | None
) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    """The pod's volumes and where the container has them."""
    volumes = [
        k8s.core.v1.VolumeArgs(name="files", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map)),
        k8s.core.v1.VolumeArgs(name="status", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Mi")),
    ]
    mounts = [
        k8s.core.v1.VolumeMountArgs(name="files", mount_path=CONFIG_DIR, read_only=True),
        k8s.core.v1.VolumeMountArgs(name="status", mount_path=STATUS_DIR),
    ]
    if mirrors_secret is not None:
        # Root-read-only in the container too: the script copies them, 0600, to the node.
        source = k8s.core.v1.SecretVolumeSourceArgs(secret_name=mirrors_secret, default_mode=0o400)
        volumes.append(k8s.core.v1.VolumeArgs(name="mirrors", secret=source))
        mounts.append(k8s.core.v1.VolumeMountArgs(name="mirrors", mount_path=MIRRORS_DIR, read_only=True))
    # Only the runtimes' configuration (read-only) and the directories it writes; a node without one gets it
    # empty (DirectoryOrCreate: the DaemonSet runs on every kind of node).
    for each in directories:
        host_path = k8s.core.v1.HostPathVolumeSourceArgs(path=each.path, type="DirectoryOrCreate")
        volumes.append(k8s.core.v1.VolumeArgs(name=each.volume, host_path=host_path))
        mounts.append(
            k8s.core.v1.VolumeMountArgs(name=each.volume, mount_path=f"{HOST}{each.path}", read_only=not each.writable)
        )
    return volumes, mounts


def _pod_spec(
    image: str,
    environment: dict[str, str],
    directories: list[HostDirectory],
    config_map: pulumi.Input[str],
    mirrors_secret: pulumi.Input[str] | None,
) -> k8s.core.v1.PodSpecArgs:
    # Ready when the file this node's runtime reads holds the current CA; restarted when it has not for five
    # minutes. Never ready on a node whose runtime reads no file the DaemonSet can write (its log says why).
    trusted = f'cmp -s {CONFIG_DIR}/ca.crt "$(cat {STATUS_DIR}/trusted)"'
    current = k8s.core.v1.ExecActionArgs(command=["/bin/sh", "-c", trusted])
    volumes, mounts = _volumes(directories, config_map, mirrors_secret)
    return k8s.core.v1.PodSpecArgs(
        automount_service_account_token=False,
        enable_service_links=False,
        # Every node, whatever its taints: a node that does not trust the CA cannot pull.
        tolerations=[k8s.core.v1.TolerationArgs(operator="Exists")],
        # Root only to write the root-owned host directories: no capability, no escalation, nothing else.
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_user=0,
            run_as_group=0,
            run_as_non_root=False,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=[
            k8s.core.v1.ContainerArgs(
                name="node-trust",
                # The registry image (busybox on Alpine): no other image to trust and pin.
                image=image,
                image_pull_policy="IfNotPresent",
                command=["/bin/sh", "-c", SCRIPT],
                env=[k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in environment.items()],
                volume_mounts=mounts,
                readiness_probe=k8s.core.v1.ProbeArgs(exec_=current, period_seconds=INTERVAL_SECONDS),
                liveness_probe=k8s.core.v1.ProbeArgs(
                    exec_=current, initial_delay_seconds=60, period_seconds=60, failure_threshold=5
                ),
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "5m", "memory": "8Mi"}, limits={"cpu": "50m", "memory": "32Mi"}
                ),
                security_context=k8s.core.v1.SecurityContextArgs(
                    privileged=False,
                    allow_privilege_escalation=False,
                    read_only_root_filesystem=True,
                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                ),
            )
        ],
        volumes=volumes,
    )
