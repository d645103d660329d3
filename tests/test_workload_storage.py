"""Workload storage: a claim kept on destroy, an existing claim, emptyDir, and S3 with keys only in files."""

from __future__ import annotations

import configparser
from typing import Any

from harness.doubles import ProgramRun, contains_secret
from harness.pod_layout import objects_by_name
from harness.program_run import secret_data
from tests.conftest import RunProgram
from tests.rendered import container, environment, volumes

S3 = {"type": "s3", "bucket": "images", "region": "eu-west-1"}


def pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = run.manifest("Deployment")["spec"]["template"]["spec"]
    return spec


def test_a_created_claim_is_protected_and_kept_on_destroy(dev_run: ProgramRun) -> None:
    claim = dev_run.one("kubernetes:core/v1:PersistentVolumeClaim")
    assert (claim.protect, claim.retain_on_delete) == (True, True)


def test_a_claim_can_be_let_go(run_with: RunProgram) -> None:
    claim = run_with(storage={"retainOnDelete": False}).one("kubernetes:core/v1:PersistentVolumeClaim")
    assert (claim.protect, claim.retain_on_delete) == (False, False)


def test_an_existing_claim_is_mounted_not_created(run_with: RunProgram) -> None:
    run = run_with(storage={"existingClaim": "registry-data", "accessMode": "ReadWriteMany"}, replicas=2)
    assert run.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []
    assert volumes(run)["data"]["persistentVolumeClaim"] == {"claimName": "registry-data"}
    assert environment(run)["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] == "/var/lib/registry"


def test_s3_settings_through_the_environment(run_with: RunProgram) -> None:
    storage = {**S3, "regionEndpoint": "https://minio.example.com:9000", "encrypt": True, "rootDirectory": "/reg"}
    run = run_with(storage=storage, replicas=3)
    env = environment(run)
    assert run.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []
    assert "data" not in volumes(run)
    assert "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY" not in env, "two storage drivers make the registry panic"
    assert {key: env[key] for key in env if key.startswith("REGISTRY_STORAGE_S3_")} == {
        "REGISTRY_STORAGE_S3_BUCKET": "images",
        "REGISTRY_STORAGE_S3_REGION": "eu-west-1",
        "REGISTRY_STORAGE_S3_REGIONENDPOINT": "https://minio.example.com:9000",
        "REGISTRY_STORAGE_S3_FORCEPATHSTYLE": "true",
        "REGISTRY_STORAGE_S3_ENCRYPT": "true",
        "REGISTRY_STORAGE_S3_SECURE": "true",
        "REGISTRY_STORAGE_S3_ROOTDIRECTORY": "/reg",
    }
    assert env["REGISTRY_STORAGE_REDIRECT_DISABLE"] == "true"
    assert run.manifest("Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"


def test_s3_keys_from_config_become_a_credentials_file(run_with: RunProgram) -> None:
    keys = {"accessKey": "AKIAEXAMPLEEXAMPLE00", "secretKey": "Example/Secret+Key"}
    run = run_with(storage={**S3, **keys}, secret_keys=["image-registry:storage"])
    env = environment(run)
    credentials = volumes(run)["s3-credentials"]["secret"]
    secret = objects_by_name(run)[("Secret", credentials["secretName"])]
    parser = configparser.ConfigParser()
    parser.read_string(secret_data(secret)["credentials"])
    assert dict(parser["default"]) == {
        "aws_access_key_id": keys["accessKey"],
        "aws_secret_access_key": keys["secretKey"],
    }
    mount = next(item for item in container(run)["volumeMounts"] if item["name"] == "s3-credentials")
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == f"{mount['mountPath']}/credentials"
    registration = next(
        item for item in run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-s3-credentials")
    )
    assert contains_secret(registration.inputs["stringData"])
    assert "stringData" in registration.replace_on_changes, "new keys roll the pods"


def test_s3_keys_from_an_existing_secret(run_with: RunProgram) -> None:
    run = run_with(storage={**S3, "credentialsSecret": "registry-s3"})
    assert volumes(run)["s3-credentials"]["secret"]["secretName"] == "registry-s3"
    assert not any(item.name.endswith("-s3-credentials") for item in run.of_type("kubernetes:core/v1:Secret"))


def test_s3_without_keys_uses_the_pods_identity(run_with: RunProgram) -> None:
    run = run_with(storage=S3)
    assert "s3-credentials" not in volumes(run)
    assert "AWS_SHARED_CREDENTIALS_FILE" not in environment(run)
