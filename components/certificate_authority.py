"""CertificateAuthority: the private CA that signs the registry's certificate."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls


@dataclass(frozen=True)
class SigningAuthority:
    """The CA that signs (`tls.caGeneration`), and every CA that nodes and clients trust, as one PEM bundle."""

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    trusted_pem: pulumi.Output[str]


def generation_name(name: str, generation: int) -> str:
    """The first generation keeps the name it always had (no replacement on upgrade); later ones are numbered."""
    return name if generation == 1 else f"{name}-{generation}"


def ca_bundle(pems: list[str]) -> str:
    """CA certificates one after the other, each ending its line; a single one exactly as issued."""
    if len(pems) == 1:
        return pems[0]
    return "".join(pem if pem.endswith("\n") else f"{pem}\n" for pem in pems)


@dataclass(frozen=True)
class CertificateAuthorityArgs:
    common_name: str
    organization: str
    validity_hours: int


class CertificateAuthority(pulumi.ComponentResource):
    """A self-signed CA, separate from the cluster's own, as in the manual install (docs/architecture.md)."""

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: CertificateAuthorityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:CertificateAuthority", name, None, opts)
        # Every node and client trusts this CA: a change that would replace it
        # (subject, lifetime, key) must fail at preview, never rotate it silently.
        child = pulumi.ResourceOptions(parent=self, protect=True)
        private_key = tls.PrivateKey(f"{name}-key", algorithm="RSA", rsa_bits=4096, opts=child)
        certificate = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=private_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=args.common_name, organization=args.organization),
            is_ca_certificate=True,
            set_subject_key_id=True,
            validity_period_hours=args.validity_hours,
            # No early renewal: a new CA must first be trusted by every node and client.
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            opts=child,
        )
        self.cert_pem = certificate.cert_pem
        self.private_key_pem = pulumi.Output.secret(private_key.private_key_pem)
        self.register_outputs({"certPem": self.cert_pem})
