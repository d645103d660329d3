"""Storage settings: claims (new or existing), emptyDir, S3 with its three sources of credentials."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from components.settings import EmptyDirStorage, PvcStorage, S3Storage, Settings, SettingsError, parse_settings

HOSTS = json.dumps(["registry.example.com"])


def parse_storage(storage: Mapping[str, object], *, secret: bool = True, **raw: object) -> Settings:
    values = {
        "hostnames": HOSTS,
        "storage": json.dumps(storage),
        **{key: json.dumps(value) for key, value in raw.items()},
    }
    return parse_settings(values, secret_keys={"storage"} if secret else set())


def s3(settings: Settings) -> S3Storage:
    assert isinstance(settings.storage, S3Storage)
    return settings.storage


def pvc(settings: Settings) -> PvcStorage:
    assert isinstance(settings.storage, PvcStorage)
    return settings.storage


def problems(storage: Mapping[str, object], *, secret: bool = True, **raw: object) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_storage(storage, secret=secret, **raw)
    return caught.value.problems


def test_s3_with_every_setting() -> None:
    settings = parse_storage(
        {
            "type": "s3",
            "bucket": "images.example",
            "region": "eu-west-1",
            "regionEndpoint": "http://minio.storage.svc:9000",
            "forcePathStyle": True,
            "encrypt": True,
            "rootDirectory": "/registry",
            "accessKey": "AKIAEXAMPLE",
            "secretKey": "s3cr3t-key",
            "deleteEnabled": True,
        },
        replicas=3,
    )
    storage = settings.storage
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.region, storage.force_path_style, storage.encrypt) == (
        "images.example",
        "eu-west-1",
        True,
        True,
    )
    assert (storage.secure, storage.endpoint_port) == (False, 9000)
    assert storage.path_style
    assert settings.replicas == 3
    assert "s3cr3t-key" not in repr(settings)


def test_s3_without_keys_uses_the_pods_identity_or_a_secret() -> None:
    assert s3(parse_storage({"type": "s3", "bucket": "images"})).credentials_secret is None
    storage = s3(parse_storage({"type": "s3", "bucket": "images", "credentialsSecret": "registry-s3"}))
    assert storage.credentials_secret == "registry-s3"
    assert storage.secure
    assert not storage.path_style, "AWS itself: virtual-hosted buckets"
    endpoint = {"type": "s3", "bucket": "images", "regionEndpoint": "https://minio.example.com"}
    assert s3(parse_storage(endpoint)).path_style
    assert not s3(parse_storage({**endpoint, "forcePathStyle": False})).path_style


def test_an_existing_claim() -> None:
    storage = parse_storage({"existingClaim": "registry-data", "accessMode": "ReadWriteMany"}).storage
    assert storage == PvcStorage(existing_claim="registry-data", access_mode="ReadWriteMany")


def test_a_created_claim_is_retained_unless_told_otherwise() -> None:
    assert pvc(parse_storage({})).retain_on_delete is True
    assert pvc(parse_storage({"retainOnDelete": False})).retain_on_delete is False


@pytest.mark.parametrize(
    ("storage", "key", "allowed"),
    [
        pytest.param({"type": "s3", "bucket": "Images_1"}, "storage.bucket", "S3 bucket name", id="bucket-name"),
        pytest.param(
            {"type": "s3", "bucket": "images", "regionEndpoint": "minio:9000"},
            "storage.regionEndpoint",
            "http(s)://host[:port]",
            id="endpoint-without-scheme",
        ),
        pytest.param(
            {"type": "s3", "bucket": "images", "accessKey": "AKIA"},
            "storage.secretKey",
            "together, or neither",
            id="half-the-keys",
        ),
        pytest.param(
            {"type": "s3", "bucket": "images", "accessKey": "A", "secretKey": "B", "credentialsSecret": "s3"},
            "storage.credentialsSecret",
            "not both",
            id="keys-and-a-secret",
        ),
        pytest.param(
            {"type": "s3", "bucket": "images", "size": "20Gi"}, "storage.size", "only the keys", id="s3-with-size"
        ),
        pytest.param(
            {"existingClaim": "data", "size": "5Gi"}, "storage.size", "existingClaim", id="existing-claim-with-size"
        ),
        pytest.param(
            {"existingClaim": "data", "retainOnDelete": False},
            "storage.retainOnDelete",
            "exists already",
            id="existing-claim-retain",
        ),
        pytest.param({"existingClaim": "Data_1"}, "storage.existingClaim", "DNS name", id="existing-claim-name"),
    ],
)
def test_bad_storage(storage: dict[str, object], key: str, allowed: str) -> None:
    found = [problem for problem in problems(storage) if problem.startswith(f"image-registry:{key}:")]
    assert found, problems(storage)
    assert allowed in found[0]


def test_s3_keys_in_plain_text_are_refused_without_showing_them() -> None:
    storage = {"type": "s3", "bucket": "images", "accessKey": "AKIAPLAIN", "secretKey": "plain-secret-key"}
    found = problems(storage, secret=False)
    assert [problem.split(":")[1] for problem in found] == ["storage.accessKey"]
    assert "(value hidden)" in found[0]
    assert "pulumi config set --secret --path 'storage.accessKey'" in found[0]
    assert not any("AKIAPLAIN" in problem or "plain-secret-key" in problem for problem in found)


def test_s3_keys_plain_in_the_stack_file_are_refused() -> None:
    storage = {"type": "s3", "bucket": "images", "accessKey": "AKIA", "secretKey": "secret-from-file"}
    values = {"hostnames": HOSTS, "storage": json.dumps(storage)}
    with pytest.raises(SettingsError) as caught:
        parse_settings(values, secret_keys={"storage"}, plain_leaves={"storage.secretKey", "storage.bucket"})
    assert [problem.split(":")[1] for problem in caught.value.problems] == ["storage.secretKey"]


def test_replicas_on_s3_and_shared_claims_only() -> None:
    assert parse_storage({"type": "s3", "bucket": "images"}, replicas=3).replicas == 3
    (problem,) = problems({"accessMode": "ReadWriteOncePod"}, replicas=2)
    assert problem.startswith("image-registry:replicas: 2 is not allowed; allowed: 1 with storage.accessMode")
    assert "storage.type s3" in problem


@pytest.mark.parametrize("size", ["20Gi", "500Mi", "1T", "1000000", "1.5Gi", "0.5Ki", "2.5k", "1Ei"])
def test_sizes_are_byte_quantities(size: str) -> None:
    assert pvc(parse_storage({"size": size})).size == size
    assert parse_storage({"type": "emptyDir", "sizeLimit": size}).storage == EmptyDirStorage(
        type="emptyDir", size_limit=size
    )


@pytest.mark.parametrize(
    ("size", "hint"),
    [
        pytest.param("20GB", "(write 20G or 20Gi: Kubernetes sizes have no B)", id="bytes-suffix"),
        pytest.param("500kB", "(write 500k or 500Ki: Kubernetes sizes have no B)", id="kilobytes"),
        pytest.param("20GiB", "(write 20Gi: Kubernetes sizes have no B)", id="binary-bytes-suffix"),
        pytest.param("250m", "(m is a thousandth: not a size)", id="milli"),
        pytest.param("1500m", "(m is a thousandth: not a size)", id="milli-of-a-fraction"),
        pytest.param("2000m", "(m is a thousandth: not a size)", id="milli-of-whole-bytes"),
        pytest.param("0.5", "(not a whole number of bytes)", id="half-a-byte"),
        pytest.param("1.3Ki", "(not a whole number of bytes)", id="a-fraction-through-the-unit"),
        pytest.param("0Gi", "", id="zero"),
        pytest.param("-1Gi", "", id="negative"),
        pytest.param("1e9", "", id="exponent"),
    ],
)
def test_a_size_that_is_no_byte_quantity_is_refused_with_byte_examples(size: str, hint: str) -> None:
    for storage, key in (({"size": size}, "size"), ({"type": "emptyDir", "sizeLimit": size}, "sizeLimit")):
        (problem,) = problems(storage, secret=False)
        assert problem.startswith(
            f'image-registry:storage.{key}: "{size}" is not allowed; allowed: a positive byte quantity such as '
            "20Gi, 500Mi, 1T or 1000000: a whole number of bytes"
        )
        assert problem.endswith(hint)
        assert "250m" not in problem.replace(f'"{size}"', "")


def test_cpu_and_memory_keep_kubernetes_quantities() -> None:
    resources = {"requests": {"cpu": "250m", "memory": "0.5Gi"}, "limits": {"cpu": "1.5", "memory": "1Gi"}}
    settings = parse_settings({"hostnames": HOSTS, "resources": json.dumps(resources)})
    assert settings.resources.requests == {"cpu": "250m", "memory": "0.5Gi"}
