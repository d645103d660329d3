"""Objects that break every policy of the pack at once: the real CLI must refuse them at preview."""

import base64
import json

import pulumi_kubernetes as k8s

meta = k8s.meta.v1.ObjectMetaArgs
claim = k8s.core.v1.PersistentVolumeClaim(
    "data",
    metadata=meta(name="probe-data", namespace="default"),
    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteOnce"],
        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": "1Gi"}),
    ),
)
labels = {"app": "probe"}
k8s.apps.v1.Deployment(
    "registry",
    metadata=meta(name="probe", namespace="default"),
    spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=2,  # replicas-on-shared-storage: two pods on a ReadWriteOnce claim
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=meta(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="registry",
                        image="registry:latest",  # registry-images-pinned; no limit: containers-have-limits
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/registry")],
                    ),
                    k8s.core.v1.ContainerArgs(
                        name="scratch",
                        image="busybox:1.36.1",
                        # upstream-credentials-in-files: a mirror's upstream password in the environment
                        env=[k8s.core.v1.EnvVarArgs(name="REGISTRY_PROXY_PASSWORD", value="x")],
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="scratch", mount_path="/var/lib/registry")],
                    ),
                ],
                volumes=[
                    k8s.core.v1.VolumeArgs(
                        name="data",
                        persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                            claim_name=claim.metadata.name
                        ),
                    ),
                    # prod-registry-storage-survives (in a stack named prod…)
                    k8s.core.v1.VolumeArgs(name="scratch", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
                ],
            ),
        ),
    ),
)
# ingress-hosts-in-certificate: a host no certificate request names
k8s.networking.v1.Ingress(
    "registry",
    metadata=meta(name="probe", namespace="default"),
    spec=k8s.networking.v1.IngressSpecArgs(
        rules=[k8s.networking.v1.IngressRuleArgs(host="elsewhere.example.com")],
    ),
)
# pull-secrets-cannot-push: a front whose user `ci` has no rules of its own, and a pull Secret carrying it
front = {"apps": {"http": {"servers": {"front": {"routes": [{"handle": [
    {"handler": "authentication", "providers": {"http_basic": {"accounts": [{"username": "ci", "password": "x"}]}}}
]}]}}}}}  # fmt: skip
k8s.core.v1.Secret(
    "front", metadata=meta(name="probe-auth", namespace="default"), string_data={"caddy.json": json.dumps(front)}
)
docker_config = {"auths": {"elsewhere.example.com": {"username": "ci", "password": "x"}}}
k8s.core.v1.Secret(
    "pull",
    metadata=meta(name="probe-pull", namespace="default"),
    type="kubernetes.io/dockerconfigjson",
    string_data={".dockerconfigjson": json.dumps(docker_config)},
)
# node-credentials-pull-only-in-secrets: a hosts.toml with a credential in a ConfigMap
header = base64.b64encode(b"ci:x").decode()
k8s.core.v1.ConfigMap(
    "node-files",
    metadata=meta(name="probe-node-files", namespace="default"),
    data={"docker.io.toml": f'[host."https://elsewhere.example.com/v2/mirror/docker.io".header]\n'
          f'  Authorization = "Basic {header}"\n'},
)  # fmt: skip
