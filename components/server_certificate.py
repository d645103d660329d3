"""ServerCertificate: the registry's TLS certificate, signed by our CA."""

from __future__ import annotations

import pulumi

from components.signed_key_pair import SignedKeyPairArgs, signed_key_pair

# Its SANs are derived by Settings.certificate_dns_names, never written by hand.
ServerCertificateArgs = SignedKeyPairArgs


class ServerCertificate(pulumi.ComponentResource):
    """Key, CSR and CA-signed certificate; `pulumi up` renews it early."""

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: ServerCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:ServerCertificate", name, None, opts)
        # No key_encipherment: an EC key signs, it never encrypts a premaster secret (RFC 5480).
        self.cert_pem, self.private_key_pem = signed_key_pair(name, args, ["server_auth", "digital_signature"], self)
        self.register_outputs({"certPem": self.cert_pem})
