"""RegistryStack: the whole registry, composed, and the stack's outputs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi

from components.certificate_authority import (
    CertificateAuthority,
    CertificateAuthorityArgs,
    SigningAuthority,
    ca_bundle,
    generation_name,
)
from components.client_certificate import ClientCertificate
from components.exposure import RegistryExposure, RegistryExposureArgs
from components.ingress_annotations import presents_client_certificate
from components.node_layouts import k3s_registries_yaml, mirror_endpoints
from components.node_trust import NodeTrust, NodeTrustArgs
from components.pull_secrets import PullSecrets, PullSecretsArgs
from components.registry_users import RegistryUsers, RegistryUsersArgs
from components.server_certificate import ServerCertificate, ServerCertificateArgs
from components.settings import Settings
from components.signed_key_pair import SignedKeyPairArgs
from components.workload import RegistryWorkload, RegistryWorkloadArgs
from components.workload.front_config import INGRESS_CLIENT_SUFFIX


@dataclass(frozen=True)
class RegistryStackArgs:
    settings: Settings


def docker_config_json(hosts: list[str], username: str, password: str) -> str:
    """A `.dockerconfigjson` document with the same credentials for every host."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    entry = {"username": username, "password": password, "auth": auth}
    return json.dumps({"auths": dict.fromkeys(hosts, entry)}, indent=2, sort_keys=True)


class RegistryStack(pulumi.ComponentResource):
    """CA, server certificate, htpasswd users, the workload and its exposure, wired together."""

    registry_host: str
    hostnames: list[str]
    internal_host: str
    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    username: str
    password: pulumi.Output[str]
    docker_config_json: pulumi.Output[str]
    pull_docker_config_json: pulumi.Output[str]
    pull_secrets: dict[str, str]
    k3s_registries_yaml: str
    mirror_endpoints: dict[str, str]

    def __init__(self, name: str, args: RegistryStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryStack", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        authority, server_certificate = self._certificates(name, settings)
        users = RegistryUsers(
            f"{name}-users",
            RegistryUsersArgs(users=settings.registry_users, bcrypt_cost=settings.bcrypt_cost),
            opts=child,
        )
        workload = RegistryWorkload(
            f"{name}-workload",
            RegistryWorkloadArgs(
                settings=settings,
                tls_cert_pem=server_certificate.cert_pem,
                tls_private_key_pem=server_certificate.private_key_pem,
                ca_cert_pem=authority.trusted_pem,
                accounts=users.accounts,
            ),
            opts=child,
        )
        exposure = RegistryExposure(
            f"{name}-exposure",
            RegistryExposureArgs(
                settings=settings,
                namespace=workload.namespace,
                tls_secret_name=workload.tls_secret_name,
                ca_cert_pem=authority.trusted_pem,
                ingress_client=self._ingress_client_certificate(name, settings, authority),
                previous_parent=workload,
            ),
            opts=child,
        )

        if settings.node_trust.enabled:
            mirror_user = settings.mirror_user
            mirror_password = None if mirror_user is None else users.passwords[mirror_user.name]
            NodeTrust(f"{name}-node-trust", NodeTrustArgs(settings, authority.trusted_pem, mirror_password), opts=child)
        self.k3s_registries_yaml = k3s_registries_yaml(settings)
        self.mirror_endpoints = mirror_endpoints(settings)

        self.registry_host = settings.hostnames[0]
        self.hostnames = list(settings.hostnames)
        self.internal_host = settings.internal_host
        self.namespace = workload.namespace
        self.service_name = exposure.service_name
        self.ca_cert_pem = authority.trusted_pem
        # The first user's credentials (CI pushes with them), and the pull-only user's (pull Secrets, nodes).
        self.username = settings.users[0].name
        self.password = pulumi.Output.secret(users.passwords[self.username])
        self.docker_config_json = self._docker_config(self.username, self.password)
        pull_user = settings.pull_user.name
        self.pull_docker_config_json = self._docker_config(pull_user, users.passwords[pull_user])
        self.pull_secrets = PullSecrets(
            f"{name}-pull-secrets",
            PullSecretsArgs(settings.name, settings.pull_secret_namespaces, self.pull_docker_config_json),
            opts=child,
        ).names
        self.register_outputs(self.outputs())

    def _docker_config(self, username: str, password: pulumi.Output[str]) -> pulumi.Output[str]:
        hosts = [*self.hostnames, self.internal_host]
        return pulumi.Output.secret(password.apply(lambda plain: docker_config_json(hosts, username, plain)))

    def _certificates(self, name: str, settings: Settings) -> tuple[SigningAuthority, ServerCertificate]:
        child = pulumi.ResourceOptions(parent=self)
        authorities = {
            generation: CertificateAuthority(
                generation_name(f"{name}-ca", generation),
                CertificateAuthorityArgs(
                    common_name=generation_name(f"{settings.name} CA", generation) + f" ({settings.namespace})",
                    organization=settings.tls.organization,
                    validity_hours=settings.tls.ca_validity_hours,
                ),
                opts=child,
            )
            for generation in settings.tls.ca_generations
        }
        signer = authorities[settings.tls.ca_generation]
        authority = SigningAuthority(
            signer.cert_pem,
            signer.private_key_pem,
            pulumi.Output.all(*(each.cert_pem for each in authorities.values())).apply(ca_bundle),
        )
        server_certificate = ServerCertificate(
            f"{name}-server",
            ServerCertificateArgs(
                ca_cert_pem=authority.cert_pem,
                ca_private_key_pem=authority.private_key_pem,
                common_name=settings.hostnames[0],
                organization=settings.tls.organization,
                dns_names=settings.certificate_dns_names,
                ip_addresses=settings.tls.extra_ip_addresses,
                validity_hours=settings.tls.server_validity_hours,
                early_renewal_hours=settings.tls.early_renewal_hours,
            ),
            opts=child,
        )
        return authority, server_certificate

    def _ingress_client_certificate(
        self, name: str, settings: Settings, authority: SigningAuthority
    ) -> ClientCertificate | None:
        if not presents_client_certificate(settings.ingress):
            return None
        return ClientCertificate(
            f"{name}-ingress-client",
            SignedKeyPairArgs(
                ca_cert_pem=authority.cert_pem,
                ca_private_key_pem=authority.private_key_pem,
                common_name=f"{settings.name}{INGRESS_CLIENT_SUFFIX}",
                organization=settings.tls.organization,
                validity_hours=settings.tls.server_validity_hours,
                early_renewal_hours=settings.tls.early_renewal_hours,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def outputs(self) -> dict[str, object]:
        """The stack outputs other stacks read (README: "Outputs"), by name."""
        return {
            "registryHost": self.registry_host,
            "hostnames": self.hostnames,
            "internalHost": self.internal_host,
            "namespace": self.namespace,
            "serviceName": self.service_name,
            "caCertPem": self.ca_cert_pem,
            "username": self.username,
            "password": self.password,
            "dockerConfigJson": self.docker_config_json,
            "pullDockerConfigJson": self.pull_docker_config_json,
            "pullSecrets": self.pull_secrets,
            "k3sRegistriesYaml": self.k3s_registries_yaml,
            "mirrorEndpoints": self.mirror_endpoints,
        }
