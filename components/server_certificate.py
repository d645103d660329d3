"""ServerCertificate: the registry's TLS certificate, signed by our CA."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls


@dataclass(frozen=True)
class ServerCertificateArgs:
    ca_cert_pem: pulumi.Input[str]
    ca_private_key_pem: pulumi.Input[str]
    common_name: str
    organization: str
    # Derived by Settings.certificate_dns_names, never written by hand.
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    validity_hours: int
    early_renewal_hours: int


class ServerCertificate(pulumi.ComponentResource):
    """Key, CSR and CA-signed certificate; `pulumi up` renews it early."""

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: ServerCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:ServerCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
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
            # No key_encipherment: an EC key signs, it never encrypts a premaster secret (RFC 5480).
            allowed_uses=["server_auth", "digital_signature"],
            opts=child,
        )
        self.cert_pem = certificate.cert_pem
        self.private_key_pem = pulumi.Output.secret(private_key.private_key_pem)
        self.register_outputs({"certPem": self.cert_pem})
