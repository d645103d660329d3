"""Where the registry keeps its blobs: a claim (protected, kept on destroy), emptyDir when asked, or S3."""

from __future__ import annotations

import configparser
import io

import pulumi
import pulumi_kubernetes as k8s

from components.kube import object_metadata
from components.settings import EmptyDirStorage, PvcStorage, S3Storage
from components.workload.environment import DATA_DIR, S3_CREDENTIALS_DIR, S3_CREDENTIALS_KEY

StorageVolumes = tuple[tuple[k8s.core.v1.VolumeArgs, str], ...]


def aws_credentials_file(access_key: str, secret_key: str) -> str:
    """The AWS SDK's shared credentials file (the profile it reads by default)."""
    parser = configparser.ConfigParser()
    parser["default"] = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    text = io.StringIO()
    parser.write(text)
    return text.getvalue()


def storage_volumes(
    storage: PvcStorage | EmptyDirStorage | S3Storage, name: str, namespace: pulumi.Input[str], parent: pulumi.Resource
) -> StorageVolumes:
    """The volumes the registry's containers mount for their storage, with their mount paths."""
    if isinstance(storage, S3Storage):
        return _s3_credentials(storage, name, namespace, parent)
    if isinstance(storage, EmptyDirStorage):
        source = k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=storage.size_limit)
        return ((k8s.core.v1.VolumeArgs(name="data", empty_dir=source), DATA_DIR),)
    claim_name = storage.existing_claim or _claim(storage, name, namespace, parent).metadata.name
    source_claim = k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim_name)
    return ((k8s.core.v1.VolumeArgs(name="data", persistent_volume_claim=source_claim), DATA_DIR),)


def _claim(
    storage: PvcStorage, name: str, namespace: pulumi.Input[str], parent: pulumi.Resource
) -> k8s.core.v1.PersistentVolumeClaim:
    return k8s.core.v1.PersistentVolumeClaim(
        f"{name}-data",
        metadata=object_metadata(name, namespace, "data"),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=[storage.access_mode],
            storage_class_name=storage.storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": storage.size}),
        ),
        # The images live here: Pulumi refuses to replace or delete it, and `pulumi destroy`
        # leaves it (and its volume) in the cluster, unless the stack says storage.retainOnDelete: false.
        opts=pulumi.ResourceOptions(
            parent=parent, protect=storage.retain_on_delete, retain_on_delete=storage.retain_on_delete
        ),
    )


def _s3_credentials(
    storage: S3Storage, name: str, namespace: pulumi.Input[str], parent: pulumi.Resource
) -> StorageVolumes:
    if storage.access_key is not None and storage.secret_key is not None:
        credentials = pulumi.Output.secret(aws_credentials_file(storage.access_key, storage.secret_key))
        # Auto-named and replaced on change: new keys roll the pods (the SDK reads the file once).
        secret_name: pulumi.Input[str] = k8s.core.v1.Secret(
            f"{name}-s3-credentials",
            metadata=object_metadata(name, namespace),
            type="Opaque",
            string_data=credentials.apply(lambda text: {S3_CREDENTIALS_KEY: text}),
            opts=pulumi.ResourceOptions(parent=parent, replace_on_changes=["data", "stringData"]),
        ).metadata.name
    elif storage.credentials_secret is not None:
        secret_name = storage.credentials_secret
    else:
        return ()  # the pod's own identity (IRSA, EKS Pod Identity, instance role)
    source = k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=secret_name,
        default_mode=0o440,
        items=[k8s.core.v1.KeyToPathArgs(key=S3_CREDENTIALS_KEY, path=S3_CREDENTIALS_KEY)],
    )
    return ((k8s.core.v1.VolumeArgs(name="s3-credentials", secret=source), S3_CREDENTIALS_DIR),)


def strategy(storage: PvcStorage | EmptyDirStorage | S3Storage) -> k8s.apps.v1.DeploymentStrategyArgs:
    if isinstance(storage, PvcStorage) and storage.single_pod:
        # One node can mount the volume: the old pod must let go before the new one starts.
        return k8s.apps.v1.DeploymentStrategyArgs(type="Recreate")
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
    )
