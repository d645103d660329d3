"""ClientCertificate: how the ingress controller proves to the registry's front that it is the ingress controller."""

from __future__ import annotations

import pulumi

from components.signed_key_pair import SignedKeyPairArgs, signed_key_pair


class ClientCertificate(pulumi.ComponentResource):
    """Key, CSR and CA-signed certificate for TLS client authentication only; `pulumi up` renews it early.

    The front trusts the X-Forwarded-For of a request only when its connection presented this certificate:
    it says who the client behind the Ingress is, and nobody else can say so.
    """

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: SignedKeyPairArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:ClientCertificate", name, None, opts)
        # Client authentication only: it cannot serve as the registry's (or anyone's) server certificate.
        self.cert_pem, self.private_key_pem = signed_key_pair(name, args, ["client_auth", "digital_signature"], self)
        self.register_outputs({"certPem": self.cert_pem})
