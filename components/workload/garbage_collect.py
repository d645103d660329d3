"""The garbage collector: `registry garbage-collect` on a schedule, on the registry's own storage and settings."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kube import labels_for, object_metadata, selector_for
from components.settings import GarbageCollect, PvcStorage
from components.workload.environment import CONFIG_FILE
from components.workload.pod import PodInputs, pod_spec, registry_container, registry_volumes


def garbage_collect_command(collect: GarbageCollect) -> list[str]:
    """The container's arguments (the image's entrypoint runs `registry garbage-collect …`)."""
    return ["garbage-collect", *(["--delete-untagged"] if collect.delete_untagged else []), CONFIG_FILE]


def garbage_collector(
    pod: PodInputs, collect: GarbageCollect, namespace: pulumi.Input[str], parent: pulumi.Resource
) -> k8s.batch.v1.CronJob:
    name = pod.settings.name
    storage = pod.settings.storage
    affinity = None
    if isinstance(storage, PvcStorage) and storage.single_pod:
        # A ReadWriteOnce claim mounts on one node only: run beside the registry pod, or never start.
        affinity = k8s.core.v1.AffinityArgs(
            pod_affinity=k8s.core.v1.PodAffinityArgs(
                required_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.PodAffinityTermArgs(
                        label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(name)),
                        topology_key="kubernetes.io/hostname",
                    )
                ]
            )
        )
    labels = {**labels_for(name), "app.kubernetes.io/component": "garbage-collector"}
    spec = pod_spec(
        pod,
        containers=[registry_container(pod, "garbage-collect", garbage_collect_command(collect))],
        volumes=registry_volumes(pod),
        affinity=affinity,
        restart_policy="Never",
    )
    return k8s.batch.v1.CronJob(
        f"{name}-garbage-collect",
        metadata=object_metadata(name, namespace, "garbage-collect"),
        spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=collect.schedule,
            # Two collections at once would race over the same blobs.
            concurrency_policy="Forbid",
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(
                spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=1,
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=spec
                    ),
                )
            ),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
