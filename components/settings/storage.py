"""Where the blobs live: a claim (created or existing), throwaway emptyDir, or an S3-compatible bucket."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from components.settings.base import ConfigModel
from components.settings.types import BYTES_ALLOWED, ByteQuantity, DnsName, SecretText, problem

_ENDPOINT = "an http(s)://host[:port] URL of an S3-compatible store, such as https://minio.example.com"
# Amazon's rules for bucket names (S3-compatible stores follow them).
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class PvcStorage(ConfigModel):
    """A PersistentVolumeClaim, created by the stack or already in the namespace: the data outlives every pod."""

    type: Literal["pvc"] = "pvc"
    size: ByteQuantity = "20Gi"
    storage_class: DnsName | None = Field(
        default=None, description="the name of a StorageClass; none: the cluster's default class"
    )
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = Field(
        default="ReadWriteOnce",
        description="ReadWriteOnce (one node), ReadWriteOncePod (one pod) or ReadWriteMany (every node: "
        "what more than one replica needs)",
    )
    existing_claim: DnsName | None = Field(
        default=None, description="the name of a claim in the namespace, used as it is; none: the stack creates one"
    )
    retain_on_delete: bool = Field(
        default=True,
        description="true or false: whether the claim the stack created, with the images, outlives the stack",
    )
    delete_enabled: bool = Field(
        default=False,
        description="true or false: whether admin users may delete images (garbage collection then frees their space)",
    )

    @model_validator(mode="after")
    def _an_existing_claim_is_taken_as_it_is(self) -> PvcStorage:
        if self.existing_claim is not None:
            for field in ("size", "storage_class", "retain_on_delete"):
                if field in self.model_fields_set:
                    at = "." + (type(self).model_fields[field].alias or field)
                    raise problem("nothing with storage.existingClaim (the claim exists already)", at=at)
        return self

    @property
    def single_pod(self) -> bool:
        """One node, so one pod under Recreate, can mount it."""
        return self.access_mode != "ReadWriteMany"


class EmptyDirStorage(ConfigModel):
    """Throwaway storage: every image is lost when the pod goes."""

    type: Literal["emptyDir"]
    size_limit: ByteQuantity | None = Field(default=None, description=f"none (no limit) or {BYTES_ALLOWED}")
    delete_enabled: bool = Field(
        default=False,
        description="true or false: whether admin users may delete images (garbage collection then frees their space)",
    )

    @property
    def single_pod(self) -> bool:
        return True


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError(_ENDPOINT)
    return url.rstrip("/")


class S3Storage(ConfigModel):
    """An S3 bucket (or MinIO, Ceph RGW, …): every replica shares it."""

    type: Literal["s3"]
    bucket: str = Field(pattern=_BUCKET, description="an S3 bucket name (3-63 characters of a-z, 0-9, '.', '-')")
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]+$", description="a region such as eu-west-1")
    region_endpoint: Annotated[str, AfterValidator(_endpoint)] | None = Field(
        default=None, description=f"{_ENDPOINT}; none: AWS itself"
    )
    # Unset: path style with regionEndpoint (MinIO and most S3-compatible stores), virtual hosts on AWS.
    force_path_style: bool | None = Field(
        default=None,
        description="true or false: path-style bucket URLs; none: path style with regionEndpoint, "
        "virtual-hosted on AWS",
    )
    encrypt: bool = Field(default=False, description="true or false: whether the store encrypts the blobs it keeps")
    root_directory: str | None = Field(
        default=None, pattern=r"^/?[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", description="a path inside the bucket"
    )
    access_key: SecretText | None = Field(
        default=None,
        repr=False,
        description="a secret: an access key ID, with secretKey; none: credentialsSecret or the pod's own identity",
    )
    secret_key: SecretText | None = Field(default=None, repr=False, description="a secret: accessKey's secret key")
    credentials_secret: DnsName | None = Field(
        default=None, description="the name of a Secret in the namespace with an AWS credentials file at `credentials`"
    )
    delete_enabled: bool = Field(
        default=False,
        description="true or false: whether admin users may delete images (garbage collection then frees their space)",
    )

    @model_validator(mode="after")
    def _one_source_of_credentials(self) -> S3Storage:
        if (self.access_key is None) != (self.secret_key is None):
            missing = ".secretKey" if self.secret_key is None else ".accessKey"
            raise problem("storage.accessKey and storage.secretKey together, or neither", at=missing, show=False)
        if self.access_key is not None and self.credentials_secret is not None:
            raise problem(
                "storage.credentialsSecret or storage.accessKey/secretKey, not both",
                at=".credentialsSecret",
                value=self.credentials_secret,
            )
        return self

    @property
    def single_pod(self) -> bool:
        return False

    @property
    def path_style(self) -> bool:
        return self.force_path_style if self.force_path_style is not None else self.region_endpoint is not None

    @property
    def secure(self) -> bool:
        return self.region_endpoint is None or self.region_endpoint.startswith("https://")

    @property
    def endpoint_port(self) -> int:
        """The TCP port the registry reaches the store on (for egress rules)."""
        parts = urlsplit(self.region_endpoint or "https://s3.amazonaws.com")
        return parts.port or (443 if parts.scheme == "https" else 80)


def _storage_type(value: Any) -> Any:
    return value.get("type", "pvc") if isinstance(value, dict) else getattr(value, "type", None)


Storage = Annotated[
    Annotated[PvcStorage, Tag("pvc")] | Annotated[EmptyDirStorage, Tag("emptyDir")] | Annotated[S3Storage, Tag("s3")],
    Discriminator(_storage_type),
]
