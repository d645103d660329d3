"""A consumer of the image-registry stack: its pull Secret and a Deployment of an image from the registry.

Where the registry's host and pull credentials come from (README.md beside this file):
- `registryStack` set: its StackReference, when this stack can read its secret outputs (the same backend, the same
  passphrase or secrets provider); else `pullDockerConfigJson` from this stack's secret config;
- `registryStack` not set: this stack's config, `registryHost` and the secret `pullDockerConfigJson`, copied from
  the registry's outputs (a registry on another backend, which a StackReference cannot reach).
Neither there: one error that names both ways. No error message carries a credential.
"""

import json

import pulumi
import pulumi_kubernetes as k8s

# What the README's quick start pushes (`docker push $host/ci/busybox:1.36`): a pinned tag, never `latest`.
DEFAULT_IMAGE = "ci/busybox:1.36"
CREDENTIALS_KEY = "pullDockerConfigJson"
BOTH_WAYS = (
    "either reference the registry's stack on this backend, with its passphrase or secrets provider "
    "(`pulumi config set registryStack organization/image-registry/<stack>`), or copy its outputs into this "
    "stack's config: `pulumi -C <the registry project> stack output registryHost | pulumi config set registryHost` "
    "and `pulumi -C <the registry project> stack output pullDockerConfigJson --show-secrets"
    " | pulumi config set --secret pullDockerConfigJson` (examples/consumer/README.md)"
)

config = pulumi.Config()
namespace_name = config.get("namespace") or "apps"
# A repository and a pinned tag (or digest) that you pushed to the registry: never `latest`.
repository_image = config.get("image") or DEFAULT_IMAGE


def copied_credentials() -> pulumi.Output[str] | None:
    """`pullDockerConfigJson` from this stack's config: set as a secret, and a .dockerconfigjson."""
    copied = config.get(CREDENTIALS_KEY) or None
    if copied is None:
        return None
    if not pulumi.runtime.is_config_secret(config.full_key(CREDENTIALS_KEY)):
        raise pulumi.RunError(
            f"{config.full_key(CREDENTIALS_KEY)} is in this stack's config in plain text: "
            f"set it with `pulumi config set --secret {CREDENTIALS_KEY}`"
        )
    try:
        json.loads(copied)["auths"]
    except (ValueError, TypeError, KeyError):
        raise pulumi.RunError(
            f"{config.full_key(CREDENTIALS_KEY)} is not a .dockerconfigjson (JSON with `auths`): copy the "
            "registry's output with --show-secrets (without it, `pulumi stack output` prints `[secret]`)"
        ) from None
    return pulumi.Output.secret(copied)


def registry_source() -> tuple[pulumi.Input[str], pulumi.Output[str]]:
    """The registry's host and the pull-only user's .dockerconfigjson (a secret)."""
    stack_name = config.get("registryStack") or None
    credentials = copied_credentials()
    if stack_name is None:
        host = config.get("registryHost") or None
        if host is None or credentials is None:
            unset = [key for key, value in (("registryHost", host), (CREDENTIALS_KEY, credentials)) if value is None]
            missing = " and ".join(unset)
            raise pulumi.RunError(f"no registry to pull from: {missing} not set in this stack's config; {BOTH_WAYS}")
        return host, credentials

    registry = pulumi.StackReference(stack_name)

    def readable(details: pulumi.StackReferenceOutputDetails) -> pulumi.Input[str]:
        value = details.secret_value if details.secret_value is not None else details.value
        if isinstance(value, str):
            return value
        if credentials is not None:
            return credentials
        # The engine hands a secret output it cannot decrypt over as `{}` ("eliding undecryptable secrets").
        why = (
            f"exports no {CREDENTIALS_KEY}"
            if value is None
            else f"has its {CREDENTIALS_KEY} encrypted with another passphrase or secrets provider than this "
            "stack's, so Pulumi elides it here"
        )
        raise pulumi.RunError(f"the registry stack {stack_name} {why}; {BOTH_WAYS}")

    details: pulumi.Output[pulumi.StackReferenceOutputDetails] = pulumi.Output.from_input(
        registry.get_output_details(CREDENTIALS_KEY)
    )
    return registry.require_output("registryHost"), pulumi.Output.secret(details.apply(readable))


registry_host, pull_credentials = registry_source()
namespace = k8s.core.v1.Namespace("apps", metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace_name))
# The pull-only user's credentials (a copy of them cannot push); a secret stays one in this stack's state.
pull_secret = k8s.core.v1.Secret(
    "registry-pull",
    metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace.metadata.name),
    type="kubernetes.io/dockerconfigjson",
    string_data={".dockerconfigjson": pull_credentials},
)
image = pulumi.Output.concat(registry_host, "/", repository_image)
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
