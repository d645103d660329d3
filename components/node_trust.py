"""NodeTrust: a DaemonSet that makes every node's container runtime trust the registry's CA.

It writes, for each external hostname, what containerd reads from its registry
host directory (`<certs.d>/<host>/hosts.toml` and `ca.crt`, read on every pull,
no restart) and Docker's `/etc/docker/certs.d/<host>/ca.crt`. On k3s and RKE2
a `hosts.toml` in the directory their containerd is pointed at is theirs
(generated from registries.yaml), and each time they start they remove
`<certs.d>/<host>` for every host of registries.yaml, whatever else it holds
(k3s's `cleanContainerdHosts`). So there it writes the CA that registries.yaml
names (`k3s_registries_yaml`) in a directory of its own beside that file, which
k3s never cleans, and a lone `ca.crt` in `<certs.d>/<host>` too (containerd reads
it where no `hosts.toml` is: nodes without the registries.yaml). It rewrites
what has changed every few seconds, so a file removed by a person comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.kube import labels_for, object_metadata
from components.settings import Settings

# (node directory of containerd's registry hosts, Docker's or None, whether hosts.toml is ours to write)
PLATFORMS = {
    "containerd": ("/etc/containerd/certs.d", "/etc/docker/certs.d", True),
    "k3s": ("/var/lib/rancher/k3s/agent/etc/containerd/certs.d", None, False),
    "rke2": ("/var/lib/rancher/rke2/agent/etc/containerd/certs.d", None, False),
}
# Where k3s and RKE2 read their configuration, registries.yaml included (turned into hosts.toml files).
RANCHER_DIRS = {"k3s": "/etc/rancher/k3s", "rke2": "/etc/rancher/rke2"}
REGISTRIES_YAML = {platform: f"{directory}/registries.yaml" for platform, directory in RANCHER_DIRS.items()}
CONFIG_DIR = "/config"
CONTAINERD_DIR = "/host/containerd"
DOCKER_DIR = "/host/docker"
CA_DIR = "/host/ca"
INTERVAL_SECONDS = 10
# Copies a file only when it differs, through a rename: containerd never reads half a file.
SCRIPT = """set -eu
place() {
  if ! cmp -s "$1" "$2"; then cp "$1" "$2.new" && mv -f "$2.new" "$2" && echo "wrote $2"; fi
}
while :; do
  for host in $TRUST_HOSTS; do
    mkdir -p "$CONTAINERD_DIR/$host"
    place "$CONFIG_DIR/ca.crt" "$CONTAINERD_DIR/$host/ca.crt"
    if [ -n "$WRITE_HOSTS_TOML" ]; then place "$CONFIG_DIR/$host.toml" "$CONTAINERD_DIR/$host/hosts.toml"; fi
    if [ -n "$DOCKER_DIR" ]; then
      mkdir -p "$DOCKER_DIR/$host"
      place "$CONFIG_DIR/ca.crt" "$DOCKER_DIR/$host/ca.crt"
    fi
  done
  if [ -n "$CA_DIR" ]; then place "$CONFIG_DIR/ca.crt" "$CA_DIR/ca.crt"; fi
  sleep "$INTERVAL"
done
"""


def hosts_toml(host: str, certs_dir: str) -> str:
    """containerd's registry host configuration: `host` over HTTPS, trusting our CA, for every operation.

    containerd tries the `[host]` entries first and the top-level `server` last, with every capability:
    a push goes only there, and a missing tag (404) falls through to it. So the CA is on both; without
    it at the top, a push and a missing tag end in an x509 error. The `[host]` table stays because
    containerd 1.6 and 1.7 (before 1.7.32) ignore a hosts.toml that has none.
    """
    ca = f'ca = "{certs_dir}/{host}/ca.crt"'
    lines = [
        f'server = "https://{host}"',
        ca,
        "",
        f'[host."https://{host}"]',
        '  capabilities = ["pull", "resolve"]',
        f"  {ca}",
    ]
    return "\n".join(lines) + "\n"


def rancher_ca_dir(settings: Settings) -> str | None:
    """On k3s and RKE2, the node directory of the CA that registries.yaml names: the stack's own, beside
    registries.yaml, where k3s cleans nothing (it empties `<certs.d>/<host>` at every start)."""
    platform = settings.node_trust.platform
    return f"{RANCHER_DIRS[platform]}/{settings.name}" if platform in RANCHER_DIRS else None


def k3s_registries_yaml(settings: Settings) -> str:
    """k3s's (or RKE2's) `registries.yaml`: every hostname with the CA file the DaemonSet writes, no credentials.

    `configs` alone: k3s writes each listed host a hosts.toml of its own, with that CA on the top-level
    server (every capability); it honours `tls` of a host that is no mirror only from v1.29.4, v1.28.9 and
    v1.27.13 (k3s#9839; see docs/operations.md for older releases). Empty when no DaemonSet writes the CA
    on k3s or RKE2 nodes: there is no file to point at.
    """
    ca_dir = rancher_ca_dir(settings)
    if not settings.node_trust.enabled or ca_dir is None:
        return ""
    configs = {host: {"tls": {"ca_file": f"{ca_dir}/ca.crt"}} for host in settings.hostnames}
    document = yaml.safe_dump({"configs": configs}, sort_keys=False)
    return f"# {REGISTRIES_YAML[settings.node_trust.platform]} on every node\n" + document


@dataclass(frozen=True)
class NodeTrustArgs:
    settings: Settings
    ca_cert_pem: pulumi.Input[str]


class NodeTrust(pulumi.ComponentResource):
    """Its own privileged-level namespace (hostPath is refused under baseline), a ConfigMap, the DaemonSet."""

    def __init__(self, name: str, args: NodeTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:NodeTrust", name, None, opts)
        settings = args.settings
        certs_dir, docker_dir, write_hosts_toml = PLATFORMS[settings.node_trust.platform]
        ca_dir = rancher_ca_dir(settings)
        base = f"{settings.name}-node-trust"
        namespace = k8s.core.v1.Namespace(
            f"{base}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=base,
                labels={**labels_for(settings.name), "pod-security.kubernetes.io/enforce": "privileged"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        files = {f"{host}.toml": hosts_toml(host, certs_dir) for host in settings.hostnames}
        # Auto-named: a new CA is a new ConfigMap, which rolls the DaemonSet and rewrites every node at once.
        config_map = k8s.core.v1.ConfigMap(
            f"{base}-files",
            metadata=object_metadata(settings.name, namespace.metadata.name),
            data=pulumi.Output.from_input(args.ca_cert_pem).apply(lambda pem: {"ca.crt": pem, **files}),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data"]),
        )
        environment = {
            "TRUST_HOSTS": " ".join(settings.hostnames),
            "CONFIG_DIR": CONFIG_DIR,
            "CONTAINERD_DIR": CONTAINERD_DIR,
            "DOCKER_DIR": DOCKER_DIR if docker_dir else "",
            "WRITE_HOSTS_TOML": "true" if write_hosts_toml else "",
            "CA_DIR": CA_DIR if ca_dir else "",
            "INTERVAL": str(INTERVAL_SECONDS),
        }
        host_dirs = {"containerd-certs": (certs_dir, CONTAINERD_DIR)}
        if docker_dir:
            host_dirs["docker-certs"] = (docker_dir, DOCKER_DIR)
        if ca_dir:
            host_dirs["registries-ca"] = (ca_dir, CA_DIR)
        labels = {**labels_for(settings.name), "app.kubernetes.io/component": "node-trust"}
        # The file the node's runtime reads the CA from: registries.yaml's on k3s and RKE2.
        trusted = f"{CA_DIR}/ca.crt" if ca_dir else f"{CONTAINERD_DIR}/{settings.hostnames[0]}/ca.crt"
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
                    spec=_pod_spec(settings.image, environment, host_dirs, config_map.metadata.name, trusted),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def _pod_spec(
    image: str,
    environment: dict[str, str],
    host_dirs: dict[str, tuple[str, str]],
    config_map: pulumi.Input[str],
    trusted: str,
) -> k8s.core.v1.PodSpecArgs:
    # Ready when this node holds the current CA; restarted when it has not for five minutes.
    current = k8s.core.v1.ExecActionArgs(command=["cmp", "-s", f"{CONFIG_DIR}/ca.crt", trusted])
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
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(name="files", mount_path=CONFIG_DIR, read_only=True),
                    *(k8s.core.v1.VolumeMountArgs(name=name, mount_path=path) for name, (_, path) in host_dirs.items()),
                ],
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
        volumes=[
            k8s.core.v1.VolumeArgs(name="files", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map)),
            # Only the directories it writes, created on nodes that have none yet.
            *(
                k8s.core.v1.VolumeArgs(
                    name=name, host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=node_path, type="DirectoryOrCreate")
                )
                for name, (node_path, _) in host_dirs.items()
            ),
        ],
    )
