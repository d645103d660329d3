"""`make lint`'s check of the stack files: the schema's problems, one line each, naming the key, never a secret."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings.check import StackFileChecker
from components.settings.schema import SCHEMA_FILE

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOSTS = {"image-registry:hostnames": ["registry.example.com"]}
CHECKER = StackFileChecker(json.loads(SCHEMA_FILE.read_text()))


def problems(**config: Any) -> list[str]:
    keys = {f"image-registry:{key}": value for key, value in config.items()}
    return CHECKER.problems({"config": {**HOSTS, **keys}})


def run_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "components.settings.check", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_DIR)


@pytest.mark.parametrize(
    ("config", "line"),
    [
        pytest.param(
            {"hostnames": ["a.example.com", "a.example.com"]},
            'image-registry:hostnames[1]: "a.example.com" is not allowed; allowed: each item once (the same as '
            "hostnames[0])",
            id="hostname-twice",
        ),
        pytest.param(
            {"hostnames": ["10.1.2.3"]},
            'image-registry:hostnames[0]: "10.1.2.3" is not allowed; allowed: a lowercase DNS name, not an IP address',
            id="hostname-ip",
        ),
        pytest.param({"hostnames": ["Registry.example.com"]}, "image-registry:hostnames[0]: ", id="hostname-uppercase"),
        pytest.param(
            {"tls": {"extraDnsNames": ["bad_name.lan"]}}, "image-registry:tls.extraDnsNames[0]: ", id="extra-dns-name"
        ),
        pytest.param(
            {"storage": {"type": "emptyDir", "sizeLimit": "250m"}},
            'image-registry:storage.sizeLimit: "250m" is not allowed; allowed: a positive byte quantity such as 20Gi',
            id="milli-size",
        ),
        pytest.param(
            {"storage": "fast"},
            'image-registry:storage: "fast" is not allowed; allowed: an object {type: pvc | emptyDir | s3, …}',
            id="storage-not-an-object",
        ),
        pytest.param(
            {"storage": {"type": "nfs"}},
            'image-registry:storage.type: "nfs" is not allowed; allowed: pvc or emptyDir or s3',
            id="storage-type",
        ),
        pytest.param(
            {"storage": {"sise": "5Gi"}},
            'image-registry:storage.sise: "5Gi" is not allowed; allowed: only the keys type, size, storageClass',
            id="storage-key-typo",
        ),
        pytest.param(
            {"storage": {"type": "s3"}},
            "image-registry:storage.bucket: is required; allowed: an S3 bucket name",
            id="bucket-required",
        ),
        pytest.param(
            {"replicas": "2"},
            'image-registry:replicas: "2" is not allowed; allowed: 1 with storage one pod alone mounts (by default a '
            "ReadWriteOnce claim); for more replicas use storage.accessMode ReadWriteMany or storage.type s3",
            id="replicas-text-on-the-default-claim",
        ),
        pytest.param(
            {"replicas": 3, "storage": {"type": "emptyDir"}},
            "image-registry:replicas: 3 is not allowed; allowed: 1 with storage one pod alone mounts",
            id="replicas-on-emptydir",
        ),
        pytest.param(
            {"replicas": 2, "storage": {"accessMode": "ReadWriteOncePod"}},
            "image-registry:replicas: 2 is not allowed",
            id="replicas-on-one-pod-claim",
        ),
        pytest.param(
            {"replicas": 2, "storage": {"accessMode": "ReadWriteMny"}},
            'image-registry:storage.accessMode: "ReadWriteMny" is not allowed; allowed: ReadWriteOnce (one node)',
            id="replicas-not-guessed-on-a-wrong-access-mode",
        ),
        pytest.param(
            {"replicas": 2, "storage": {"type": "nfs"}},
            'image-registry:storage.type: "nfs" is not allowed',
            id="replicas-not-guessed-on-an-unknown-type",
        ),
        pytest.param(
            {"replicas": "0"},
            'image-registry:replicas: "0" is not allowed; allowed: an integer ≥ 1',
            id="replicas-zero-as-text",
        ),
        pytest.param(
            {"namespace": "kube-system"},
            'image-registry:namespace: "kube-system" is not allowed; allowed: a namespace of the stack\'s own',
            id="system-namespace",
        ),
        pytest.param(
            {"maintenance": {"garbageCollect": {"schedule": "x y z w v"}}},
            'image-registry:maintenance.garbageCollect.schedule: "x y z w v" is not allowed; allowed: a cron schedule',
            id="cron",
        ),
        pytest.param(
            {"ingress": {"controller": "haproxy"}},
            'image-registry:ingress.controller: "haproxy" is not allowed; allowed: traefik or nginx',
            id="enum",
        ),
        pytest.param(
            {"bcryptCost": "15"},
            'image-registry:bcryptCost: "15" is not allowed; allowed: an integer from 4 to 14',
            id="text-range",
        ),
        pytest.param(
            {"createNamespace": "yes"},
            'image-registry:createNamespace: "yes" is not allowed; allowed: true or false',
            id="bool",
        ),
    ],
)
def test_one_line_per_problem_naming_the_key(config: dict[str, Any], line: str) -> None:
    found = problems(**config)
    assert len(found) == 1, found
    assert found[0].startswith(line), found


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"replicas": 3, "storage": {"type": "s3", "bucket": "images"}}, id="s3"),
        pytest.param({"replicas": "3", "storage": {"accessMode": "ReadWriteMany"}}, id="shared-claim"),
        pytest.param({"replicas": 3, "storage": {"secure": "v1:ciphertext"}}, id="secret-storage-cannot-be-seen"),
        pytest.param({"replicas": {"secure": "v1:ciphertext"}}, id="secret-replicas"),
        pytest.param({"replicas": "1"}, id="one-replica-as-text"),
        pytest.param({"namespace": "kube-system", "createNamespace": "false"}, id="existing-system-namespace"),
        pytest.param({"maintenance": {"garbageCollect": {"schedule": "0 3 * * sun"}}}, id="cron-names"),
        pytest.param({"storage": {"size": "1.5Gi"}}, id="fraction-with-a-unit"),
    ],
)
def test_what_the_program_accepts_passes(config: dict[str, Any]) -> None:
    assert problems(**config) == []


@pytest.mark.parametrize(
    ("config", "secret"),
    [
        pytest.param({"users": [{"name": "ci", "password": "Plain-Passw0rd"}]}, "Plain-Passw0rd", id="password"),
        pytest.param({"users": [{"name": "Plain-Passw0rd", "role": "x"}]}, "Plain-Passw0rd", id="under-users"),
        pytest.param({"users": "ci:Plain-Passw0rd"}, "Plain-Passw0rd", id="users-not-a-list"),
        pytest.param({"users": [{"name": "ci:Plain-Passw0rd"}]}, "Plain-Passw0rd", id="user-name-holding-a-password"),
        pytest.param(
            {"storage": {"type": "s3", "bucket": "images", "accessKey": "AKIAPLAIN", "secretKey": "Plain-Key"}},
            "Plain-Key",
            id="s3-keys",
        ),
        pytest.param(
            {"storage": {"type": "s3", "bucket": "Bad_Bucket", "secretKey": "Plain-Key", "x": 1}},
            "Plain-Key",
            id="object-holding-a-secret",
        ),
        pytest.param({"storage": {"type": "nfs", "secretKey": "Plain-Key"}}, "Plain-Key", id="unknown-type"),
        pytest.param({"storage": [{"type": "s3", "secretKey": "Plain-Key"}]}, "Plain-Key", id="shown-whole"),
    ],
)
def test_no_secret_is_ever_printed(config: dict[str, Any], secret: str) -> None:
    found = problems(**config)
    assert found
    assert not any(secret in line for line in found), found
    assert all(re.match(r"^image-registry:[A-Za-z]", line) for line in found)


def test_a_plain_secret_says_how_to_set_it() -> None:
    storage = {"type": "s3", "bucket": "images", "accessKey": "AKIAPLAIN", "secretKey": {"secure": "v1:x"}}
    assert problems(storage=storage) == [
        "image-registry:storage.accessKey: (value hidden) is not allowed; allowed: a secret, set with "
        "`pulumi config set --secret --path 'storage.accessKey' …` (it is stored in plain text)"
    ]


def test_a_plain_mirror_password_in_a_stack_file_is_refused_hidden() -> None:
    mirror = {"upstream": "docker.io", "username": "bot", "password": "Plain-T0ken"}
    assert problems(mirrors=[{"upstream": "ghcr.io"}, mirror]) == [
        "image-registry:mirrors[1].password: (value hidden) is not allowed; allowed: a secret, set with "
        "`pulumi config set --secret --path 'mirrors[1].password' …` (it is stored in plain text)"
    ]
    assert problems(mirrors=[{**mirror, "password": {"secure": "v1:ciphertext"}}]) == []


@pytest.mark.parametrize(
    ("mirror", "key"),
    [
        pytest.param({"upstream": "Docker.io"}, "mirrors[0].upstream", id="upstream"),
        pytest.param({"upstream": "docker.io", "ttl": "0h"}, "mirrors[0].ttl", id="ttl-zero"),
        pytest.param({"upstream": "docker.io", "ttl": ""}, "mirrors[0].ttl", id="ttl-empty"),
        pytest.param({"upstream": "docker.io", "remoteUrl": "http://a.io"}, "mirrors[0].remoteUrl", id="url"),
        pytest.param({"upstream": "docker.io", "passwd": "Plain-T0ken"}, "mirrors[0].passwd", id="misspelt"),
        pytest.param({"remoteUrl": "https://a.io"}, "mirrors[0].upstream", id="no-upstream"),
    ],
)
def test_a_bad_mirror_is_one_line_naming_the_key_never_its_value(mirror: dict[str, Any], key: str) -> None:
    (line,) = problems(mirrors=[mirror])
    assert line.startswith(f"image-registry:{key}: "), line
    assert "Plain-T0ken" not in line
    assert "Docker.io" not in line


def test_an_unknown_key_is_named_with_every_known_key() -> None:
    (line,) = CHECKER.problems({"config": {**HOSTS, "image-registry:hostname": "x", "kubernetes:context": "lab"}})
    assert line.startswith("image-registry:hostname: is not a config key of this program; allowed: createNamespace,")
    assert "pullSecretNamespaces" in line


def test_lines_follow_the_files_order_of_keys() -> None:
    config = {"image-registry:tls": {"organisation": "x"}, "image-registry:hostnames": ["a_b"], "image-registry:zz": 1}
    assert [line.split(":")[1] for line in CHECKER.problems({"config": config})] == [
        "tls.organisation",
        "hostnames[0]",
        "zz",
    ]


def test_the_stack_files_pass_and_a_bad_one_fails_with_its_name(tmp_path: Path) -> None:
    # The project's stack files and the examples a user copies to one (examples/stacks/).
    stack_files = sorted(PROJECT_DIR.glob("Pulumi.*.yaml")) + sorted(PROJECT_DIR.glob("examples/stacks/*.yaml"))
    assert run_check(*stack_files).returncode == 0
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(yaml.safe_dump({"config": {"image-registry:replicas": 0}}))
    result = run_check(*stack_files, bad)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}: image-registry:hostnames: is required; allowed: a non-empty list of external DNS names, "
        "e.g. `pulumi config set --path 'hostnames[0]' registry.example.com`",
        f"{bad}: image-registry:replicas: 0 is not allowed; allowed: an integer ≥ 1",
    ]


def test_a_file_that_is_not_yaml_is_one_line_without_its_text(tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.broken.yaml"
    bad.write_text("config:\n  image-registry:users: [{name: ci, password: Plain-Passw0rd\n")
    result = run_check(bad)
    assert result.returncode == 1
    assert result.stdout == f"{bad}: cannot be read as YAML at line 3 (ParserError)\n"
