"""Where the registry keeps its blobs: a protected claim, or throwaway emptyDir when asked."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kube import object_metadata
from components.settings import EmptyDirStorage, PvcStorage

DATA_VOLUME = "data"


def data_volume(
    storage: PvcStorage | EmptyDirStorage, name: str, namespace: pulumi.Input[str], parent: pulumi.Resource
) -> k8s.core.v1.VolumeArgs:
    if isinstance(storage, EmptyDirStorage):
        return k8s.core.v1.VolumeArgs(
            name=DATA_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=storage.size_limit)
        )
    claim = k8s.core.v1.PersistentVolumeClaim(
        f"{name}-data",
        metadata=object_metadata(name, namespace, "data"),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=[storage.access_mode],
            storage_class_name=storage.storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": storage.size}),
        ),
        # The images live here: replacing or deleting it must be deliberate.
        opts=pulumi.ResourceOptions(parent=parent, protect=True),
    )
    return k8s.core.v1.VolumeArgs(
        name=DATA_VOLUME,
        persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim.metadata.name),
    )


def strategy(storage: PvcStorage | EmptyDirStorage) -> k8s.apps.v1.DeploymentStrategyArgs:
    if isinstance(storage, PvcStorage) and storage.single_pod:
        # One node can mount the volume: the old pod must let go before the new one starts.
        return k8s.apps.v1.DeploymentStrategyArgs(type="Recreate")
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
    )
