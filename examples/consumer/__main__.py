"""A consumer of the image-registry stack: its pull Secret and a Deployment of an image from the registry."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
registry = pulumi.StackReference(config.require("registryStack"))
namespace_name = config.get("namespace") or "apps"
# A repository and a pinned tag (or digest) that you pushed to the registry: never `latest`.
repository_image = config.get("image") or "utils/busybox:1.36.1"

namespace = k8s.core.v1.Namespace("apps", metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace_name))
# The pull-only user's credentials (a copy of them cannot push); a secret output stays one in this stack's state.
pull_secret = k8s.core.v1.Secret(
    "registry-pull",
    metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace.metadata.name),
    type="kubernetes.io/dockerconfigjson",
    string_data={".dockerconfigjson": registry.require_output("pullDockerConfigJson")},
)
image = pulumi.Output.concat(registry.require_output("registryHost"), "/", repository_image)
labels = {"app.kubernetes.io/name": "busybox"}
k8s.apps.v1.Deployment(
    "busybox",
    metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace.metadata.name),
    spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=1,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                # Nodes pull through the registry's external name, with these credentials.
                image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=pull_secret.metadata.name)],
                automount_service_account_token=False,
                security_context=k8s.core.v1.PodSecurityContextArgs(
                    run_as_non_root=True,
                    run_as_user=10001,
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="busybox",
                        image=image,
                        command=["sleep", "infinity"],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "10m", "memory": "16Mi"}, limits={"cpu": "100m", "memory": "32Mi"}
                        ),
                        security_context=k8s.core.v1.SecurityContextArgs(
                            allow_privilege_escalation=False,
                            read_only_root_filesystem=True,
                            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                        ),
                    )
                ],
            ),
        ),
    ),
)

pulumi.export("image", image)
pulumi.export("pullSecret", pull_secret.metadata.name)
