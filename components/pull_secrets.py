"""PullSecrets: the registry's credentials as a `kubernetes.io/dockerconfigjson` Secret in each namespace that asks."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube import object_metadata


@dataclass(frozen=True)
class PullSecretsArgs:
    name: str
    namespaces: tuple[str, ...]
    docker_config_json: pulumi.Input[str]


class PullSecrets(pulumi.ComponentResource):
    """`<name>-pull` in every namespace listed: pods there name it in `imagePullSecrets`."""

    names: dict[str, str]

    def __init__(self, name: str, args: PullSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:PullSecrets", name, None, opts)
        secret_name = f"{args.name}-pull"
        for namespace in args.namespaces:
            k8s.core.v1.Secret(
                f"{args.name}-pull-{namespace}",
                # Other teams' namespaces: the stack adds its Secret there, and nothing else.
                metadata=object_metadata(args.name, namespace, "pull"),
                type="kubernetes.io/dockerconfigjson",
                string_data=pulumi.Output.secret(args.docker_config_json).apply(
                    lambda document: {".dockerconfigjson": document}
                ),
                # Same name: the old one must go first (creating an existing object fails).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
        self.names = dict.fromkeys(args.namespaces, secret_name)
        self.register_outputs({"names": self.names})
