"""A P-256 key and its certificate, signed by our CA: what the server and client certificates share."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls


@dataclass(frozen=True)
class SignedKeyPairArgs:
    ca_cert_pem: pulumi.Input[str]
    ca_private_key_pem: pulumi.Input[str]
    common_name: str
    organization: str
    validity_hours: int
    early_renewal_hours: int
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


def signed_key_pair(
    name: str, args: SignedKeyPairArgs, allowed_uses: list[str], parent: pulumi.Resource
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(certificate PEM, private key PEM as a secret); `pulumi up` renews the certificate early."""
    child = pulumi.ResourceOptions(parent=parent)
    # P-256: a handshake's signature costs far less CPU than RSA-2048's, at a higher security level; every
    # client of TLS 1.2 and later accepts it.
    private_key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
    request = tls.CertRequest(
        f"{name}-csr",
        private_key_pem=private_key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=args.common_name, organization=args.organization),
        dns_names=list(args.dns_names),
        ip_addresses=list(args.ip_addresses),
        opts=child,
    )
    certificate = tls.LocallySignedCert(
        f"{name}-cert",
        cert_request_pem=request.cert_request_pem,
        ca_cert_pem=args.ca_cert_pem,
        ca_private_key_pem=args.ca_private_key_pem,
        validity_period_hours=args.validity_hours,
        early_renewal_hours=args.early_renewal_hours,
        set_subject_key_id=True,
        allowed_uses=allowed_uses,
        opts=child,
    )
    return certificate.cert_pem, pulumi.Output.secret(private_key.private_key_pem)
