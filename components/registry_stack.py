"""RegistryStack: the whole registry, composed, and the stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.certificate_authority import CertificateAuthority, CertificateAuthorityArgs
from components.htpasswd_secret import HtpasswdSecret, HtpasswdSecretArgs, docker_config_json
from components.registry_workload import RegistryWorkload, RegistryWorkloadArgs
from components.server_certificate import ServerCertificate, ServerCertificateArgs
from components.settings import Settings


@dataclass(frozen=True)
class RegistryStackArgs:
    settings: Settings


class RegistryStack(pulumi.ComponentResource):
    """CA, server certificate, htpasswd users and the workload, wired together."""

    registry_host: str
    hostnames: list[str]
    internal_host: str
    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    username: str
    password: pulumi.Output[str]
    docker_config_json: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryStack", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        authority = CertificateAuthority(
            f"{name}-ca",
            CertificateAuthorityArgs(
                common_name=f"{settings.name} CA ({settings.namespace})",
                organization=settings.tls.organization,
                validity_hours=settings.tls.ca_validity_hours,
            ),
            opts=child,
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
        users = HtpasswdSecret(
            f"{name}-users", HtpasswdSecretArgs(users=settings.users, bcrypt_cost=settings.bcrypt_cost), opts=child
        )
        workload = RegistryWorkload(
            f"{name}-workload",
            RegistryWorkloadArgs(
                namespace=settings.namespace,
                name=settings.name,
                image=settings.image,
                replicas=settings.replicas,
                hostnames=settings.hostnames,
                storage=settings.storage,
                ingress=settings.ingress,
                tls_cert_pem=server_certificate.cert_pem,
                tls_private_key_pem=server_certificate.private_key_pem,
                ca_cert_pem=authority.cert_pem,
                htpasswd=users.htpasswd,
            ),
            opts=child,
        )

        self.registry_host = settings.hostnames[0]
        self.hostnames = list(settings.hostnames)
        self.internal_host = settings.internal_host
        self.namespace = workload.namespace
        self.service_name = workload.service_name
        self.ca_cert_pem = authority.cert_pem
        self.username = settings.users[0].name
        self.password = pulumi.Output.secret(users.passwords[self.username])
        self.docker_config_json = pulumi.Output.secret(
            self.password.apply(
                lambda password: docker_config_json([*self.hostnames, self.internal_host], self.username, password)
            )
        )
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, object]:
        """The stack-output contract of ../shared/design.md, by name."""
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
        }
