"""Settings: every config key parsed, every bad value refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from components.settings import (
    EmptyDirStorage,
    PvcStorage,
    Settings,
    SettingsError,
    User,
    parse_settings,
)
from harness.doubles import FaithfulMocks, RecordingMonitor, dev_config, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOSTS = json.dumps(["registry.example.com"])


def parse(**raw: object) -> Settings:
    """Settings from raw config; `users` is a secret key, as `pulumi config set --secret --path` makes it."""
    values = {"hostnames": HOSTS}
    for key, value in raw.items():
        values[key] = value if isinstance(value, str) else json.dumps(value)
    return parse_settings(values, secret_keys={"users"})


def problems_of(**raw: object) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse(**raw)
    return caught.value.problems


def project_config(config: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix("image-registry:"): value for key, value in config.items()}


def test_dev_stack_config_is_the_manual_install_lab() -> None:
    settings = parse_settings(project_config(dev_config()))
    assert settings.namespace == "kube-infra"
    assert settings.create_namespace is True
    assert settings.hostnames == ("image-registry.8-mega.internal", "image-registry.8-mega.example.com")
    assert settings.replicas == 1
    assert settings.users == (User(name="registry"),)
    assert settings.ingress.enabled
    assert (settings.ingress.controller, settings.ingress.class_name) == ("traefik", "traefik")
    assert settings.storage == PvcStorage(size="20Gi", access_mode="ReadWriteOnce")


def test_defaults_follow_the_design() -> None:
    settings = parse()
    assert settings.namespace == "kube-infra"
    assert settings.create_namespace is True
    assert settings.name == "image-registry"
    assert settings.replicas == 1
    assert settings.users == (User(name="registry"),)
    assert settings.storage == PvcStorage(size="20Gi", access_mode="ReadWriteOnce", storage_class=None)
    assert settings.storage.delete_enabled is False
    assert settings.ingress.controller == "traefik"
    assert settings.ingress.class_name == "traefik"
    assert settings.ingress.enabled
    assert settings.ingress.verify_backend is True
    assert settings.ingress.wait_for_address is False
    assert settings.tls.ca_validity_hours == 87600
    assert settings.tls.server_validity_hours == 8760
    assert settings.tls.early_renewal_hours == 720
    assert settings.image.startswith("registry:3.")
    assert settings.bcrypt_cost == 10


def test_pulumi_yaml_declares_the_scalar_keys_with_the_programs_defaults() -> None:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == "image-registry"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["toolchain"] == "pip"
    declared = project["config"]
    defaults = parse()
    expected = {
        "namespace": ("string", defaults.namespace),
        "createNamespace": ("boolean", defaults.create_namespace),
        "name": ("string", defaults.name),
        "replicas": ("integer", defaults.replicas),
        "image": ("string", defaults.image),
        "frontImage": ("string", defaults.front_image),
        "bcryptCost": ("integer", defaults.bcrypt_cost),
    }
    for key, (kind, default) in expected.items():
        assert declared[key]["type"] == kind, key
        assert declared[key]["default"] == default, key
        assert declared[key]["description"], key
    aliases = {info.alias for info in Settings.model_fields.values()}
    assert set(declared) <= aliases


def test_derived_names() -> None:
    settings = parse(namespace="infra", name="hub")
    assert settings.service_dns_names == ("hub", "hub.infra", "hub.infra.svc", "hub.infra.svc.cluster.local")
    assert settings.internal_host == "hub.infra.svc.cluster.local:5000"
    assert settings.certificate_dns_names == ("registry.example.com", *settings.service_dns_names)


def test_a_hostname_that_is_also_a_service_name_is_in_the_certificate_once() -> None:
    settings = parse(hostnames=["image-registry.kube-infra.svc", "registry.example.com"])
    assert settings.certificate_dns_names == (
        "image-registry.kube-infra.svc",
        "registry.example.com",
        "image-registry",
        "image-registry.kube-infra",
        "image-registry.kube-infra.svc.cluster.local",
    )


def test_users_with_and_without_passwords() -> None:
    settings = parse(users=[{"name": "ci", "password": "s3cret-Passw0rd"}, {"name": "robot"}])
    assert settings.users == (User(name="ci", password="s3cret-Passw0rd"), User(name="robot"))
    assert "s3cret" not in repr(settings)


def test_roles_and_repositories() -> None:
    users = [
        {"name": "ci", "repositories": ["team-a/*", "utils/busybox"]},
        {"name": "nodes", "access": "pull"},
        {"name": "ops", "access": "admin"},
    ]
    settings = parse(users=users)
    assert [(user.access, user.repositories) for user in settings.users] == [
        ("push", ("team-a/*", "utils/busybox")),
        ("pull", ("*",)),
        ("admin", ("*",)),
    ]
    assert [user.every_repository for user in settings.users] == [False, True, True]


@pytest.mark.parametrize(
    ("user", "problem"),
    [
        pytest.param(
            {"name": "ci", "access": "write"},
            "image-registry:users[0].access: (value hidden) is not allowed; allowed: pull, push or admin",
            id="unknown-access",
        ),
        pytest.param(
            {"name": "ci", "repositories": ["Team-A/*"]},
            "image-registry:users[0].repositories[0]: (value hidden) is not allowed; allowed: a repository name or "
            "pattern of at most 255 characters",
            id="uppercase-pattern",
        ),
        pytest.param(
            {"name": "ci", "repositories": ["team-a//x"]},
            "image-registry:users[0].repositories[0]: (value hidden) is not allowed",
            id="empty-component",
        ),
        pytest.param(
            {"name": "ci", "repositories": []},
            "image-registry:users[0].repositories: (value hidden) is not allowed; allowed: a non-empty list",
            id="no-repository",
        ),
        pytest.param(
            {"name": "ci", "repositories": ["a", "a"]},
            "image-registry:users[0].repositories[1]: (value hidden) is not allowed; allowed: each pattern once",
            id="pattern-twice",
        ),
        pytest.param(
            {"name": "image-registry-pull"},
            "image-registry:users[0].name: (value hidden) is not allowed; allowed: a name other than "
            "image-registry-pull, which the stack gives its generated pull-only user",
            id="the-generated-pull-users-name",
        ),
    ],
)
def test_bad_roles_and_repositories(user: dict[str, object], problem: str) -> None:
    (message,) = problems_of(users=[user])
    assert message.startswith(problem), message


def test_the_generated_pull_users_name_may_be_a_pull_user() -> None:
    settings = parse(users=[{"name": "ci"}, {"name": "image-registry-pull", "access": "pull"}])
    assert settings.pull_user.name == "image-registry-pull"
    assert settings.registry_users == settings.users


def test_storage_variants() -> None:
    assert parse(storage={"type": "emptyDir"}).storage == EmptyDirStorage(type="emptyDir")
    assert parse(storage={"type": "emptyDir", "sizeLimit": "5Gi"}).storage == EmptyDirStorage(
        type="emptyDir", size_limit="5Gi"
    )
    pvc = parse(storage={"size": "100Gi", "storageClass": "fast-ssd", "accessMode": "ReadWriteMany"}, replicas=3)
    assert pvc.storage == PvcStorage(size="100Gi", access_mode="ReadWriteMany", storage_class="fast-ssd")
    assert pvc.replicas == 3
    assert parse(storage={"deleteEnabled": True}).storage.delete_enabled is True
    assert parse(storage={"type": "emptyDir", "deleteEnabled": True}).storage.delete_enabled is True


def test_tls_and_ingress_objects() -> None:
    settings = parse(
        tls={
            "serverValidityHours": 2160,
            "earlyRenewalHours": 360,
            "extraDnsNames": ["registry.lan"],
            "extraIpAddresses": ["10.0.0.5"],
        },
        ingress={"className": "nginx", "annotations": {"example.com/team": "platform"}},
    )
    assert settings.tls.server_validity_hours == 2160
    assert settings.tls.extra_dns_names == ("registry.lan",)
    assert settings.tls.extra_ip_addresses == ("10.0.0.5",)
    assert settings.certificate_dns_names[-1] == "registry.lan"
    assert settings.ingress.annotations == {"example.com/team": "platform"}


@pytest.mark.parametrize(
    ("ingress", "controller", "class_name"),
    [
        pytest.param({}, "traefik", "traefik", id="default"),
        pytest.param({"className": "nginx"}, "nginx", "nginx", id="class-nginx-alone-means-nginx"),
        pytest.param({"controller": "nginx"}, "nginx", "nginx", id="controller-names-the-class"),
        pytest.param({"className": "public"}, "traefik", "public", id="own-class-traefik"),
        pytest.param({"controller": "nginx", "className": "internal"}, "nginx", "internal", id="own-class-nginx"),
        pytest.param({"controller": "traefik", "className": "nginx"}, "traefik", "nginx", id="explicit-wins"),
    ],
)
def test_ingress_controller_and_class_are_separate(ingress: dict[str, str], controller: str, class_name: str) -> None:
    settings = parse(ingress=ingress)
    assert (settings.ingress.controller, settings.ingress.class_name) == (controller, class_name)


def test_an_existing_namespace_is_used_as_it_is() -> None:
    settings = parse(namespace="default", createNamespace=False)
    assert (settings.namespace, settings.create_namespace) == ("default", False)
    assert parse(createNamespace="false").create_namespace is False


def test_integers_arrive_as_text_from_the_engine() -> None:
    assert parse(replicas="1", bcryptCost="12").bcrypt_cost == 12


# (raw config, config key in the message, value shown in the message, words of what is allowed)
BAD_INPUTS = [
    # the design's examples
    pytest.param(
        {"hostnames": ["registry_example.com"]},
        "hostnames[0]",
        '"registry_example.com"',
        "DNS name",
        id="hostname-not-dns",
    ),
    pytest.param(
        {"hostnames": ["a.example.com", "a.example.com"]},
        "hostnames[1]",
        '"a.example.com"',
        "each name once",
        id="hostname-duplicated",
    ),
    pytest.param({"replicas": 0}, "replicas", "0", "≥ 1", id="replicas-zero"),
    pytest.param({"replicas": 2}, "replicas", "2", "ReadWriteMany", id="replicas-on-rwo"),
    pytest.param(
        {"storage": {"type": "nfs"}}, "storage.type", '"nfs"', "pvc or emptyDir or s3", id="storage-type-unknown"
    ),
    pytest.param(
        {"users": [{"name": "ci:bot"}]}, "users[0].name", "(value hidden)", "without ':'", id="user-with-colon"
    ),
    # more
    pytest.param({"hostnames": []}, "hostnames", "[]", "non-empty list", id="hostnames-empty"),
    pytest.param(
        {"hostnames": "registry.example.com"}, "hostnames", "registry.example.com", "list", id="hostnames-not-a-list"
    ),
    pytest.param(
        {"hostnames": ["Registry.Example.com"]},
        "hostnames[0]",
        '"Registry.Example.com"',
        "lowercase",
        id="hostname-uppercase",
    ),
    pytest.param({"hostnames": ["10.1.2.3"]}, "hostnames[0]", '"10.1.2.3"', "not an IP address", id="hostname-ip"),
    pytest.param(
        {"hostnames": ["-bad.example.com"]},
        "hostnames[0]",
        '"-bad.example.com"',
        "DNS name",
        id="hostname-leading-dash",
    ),
    pytest.param(
        {"hostnames": ["a" * 64 + ".example.com"]},
        "hostnames[0]",
        "a" * 64,
        "1-63 characters",
        id="hostname-label-too-long",
    ),
    pytest.param({"replicas": "two"}, "replicas", '"two"', "integer", id="replicas-word"),
    pytest.param({"replicas": "1.5"}, "replicas", "1.5", "integer", id="replicas-fraction"),
    pytest.param(
        {"replicas": 2, "storage": {"type": "emptyDir"}}, "replicas", "2", "emptyDir", id="replicas-on-emptydir"
    ),
    pytest.param({"storage": {"type": "s3"}}, "storage.bucket", "", "S3 bucket name", id="storage-s3-needs-a-bucket"),
    pytest.param({"storage": {"size": "20GB"}}, "storage.size", '"20GB"', "quantity", id="storage-size-unit"),
    pytest.param({"storage": {"size": "0Gi"}}, "storage.size", '"0Gi"', "positive", id="storage-size-zero"),
    pytest.param(
        {"storage": {"accessMode": "ReadOnlyMany"}},
        "storage.accessMode",
        '"ReadOnlyMany"',
        "ReadWriteOnce",
        id="storage-access-mode",
    ),
    pytest.param({"storage": {"sise": "5Gi"}}, "storage.sise", '"5Gi"', "only the keys", id="storage-key-typo"),
    pytest.param(
        {"storage": {"type": "emptyDir", "size": "5Gi"}}, "storage.size", '"5Gi"', "sizeLimit", id="emptydir-with-size"
    ),
    pytest.param(
        {"storage": {"storageClass": "Fast_SSD"}},
        "storage.storageClass",
        '"Fast_SSD"',
        "DNS name",
        id="storage-class-name",
    ),
    pytest.param(
        {"ingress": {"controller": "haproxy"}},
        "ingress.controller",
        '"haproxy"',
        "traefik or nginx",
        id="ingress-controller",
    ),
    pytest.param(
        {"ingress": {"className": "Public"}},
        "ingress.className",
        '"Public"',
        "lowercase",
        id="ingress-class-name",
    ),
    pytest.param(
        {"ingress": {"verifyBackend": "no"}}, "ingress.verifyBackend", '"no"', "true or false", id="verify-text"
    ),
    pytest.param({"ingress": {"waitForAddress": 1}}, "ingress.waitForAddress", "1", "true or false", id="wait-number"),
    pytest.param(
        {"storage": {"deleteEnabled": "yes"}}, "storage.deleteEnabled", '"yes"', "true or false", id="delete-text"
    ),
    pytest.param({"createNamespace": "yes"}, "createNamespace", '"yes"', "true or false", id="create-ns-text"),
    pytest.param({"namespace": "default"}, "namespace", '"default"', "createNamespace: false", id="ns-default"),
    pytest.param({"namespace": "kube-system"}, "namespace", '"kube-system"', "kube-public", id="ns-kube-system"),
    pytest.param({"namespace": "kube-public"}, "namespace", '"kube-public"', "not one of", id="ns-kube-public"),
    pytest.param(
        {"namespace": "kube-node-lease"}, "namespace", '"kube-node-lease"', "not one of", id="ns-kube-node-lease"
    ),
    pytest.param(
        {"ingress": {"enabled": "yes"}}, "ingress.enabled", '"yes"', "true or false", id="ingress-enabled-text"
    ),
    pytest.param(
        {"ingress": {"annotations": {"bad key!": "x"}}},
        "ingress.annotations.bad key!",
        '"bad key!"',
        "annotation",
        id="ingress-annotation",
    ),
    pytest.param(
        {"tls": {"earlyRenewalHours": 9000}}, "tls.earlyRenewalHours", "9000", "fewer than", id="tls-renew-after-expiry"
    ),
    pytest.param(
        {"tls": {"serverValidityHours": 100000}},
        "tls.serverValidityHours",
        "100000",
        "outlive its CA",
        id="tls-outlives-ca",
    ),
    pytest.param({"tls": {"serverValidityHours": 0}}, "tls.serverValidityHours", "0", "≥ 1", id="tls-validity-zero"),
    pytest.param(
        {"tls": {"extraIpAddresses": ["10.0.0.300"]}},
        "tls.extraIpAddresses[0]",
        '"10.0.0.300"',
        "IPv4 or IPv6",
        id="tls-bad-ip",
    ),
    pytest.param(
        {"tls": {"extraDnsNames": ["image-registry.kube-infra.svc"]}},
        "tls.extraDnsNames[0]",
        '"image-registry.kube-infra.svc"',
        "already in the certificate",
        id="tls-extra-duplicates-derived",
    ),
    pytest.param({"tls": {"organisation": "x"}}, "tls.organisation", '"x"', "only the keys", id="tls-key-typo"),
    pytest.param(
        {"tls": {"caGeneration": 2, "trustedCaGenerations": [1, 3]}},
        "tls.trustedCaGenerations",
        "[1, 3]",
        "must include tls.caGeneration (2)",
        id="tls-signer-untrusted",
    ),
    pytest.param(
        {"tls": {"trustedCaGenerations": [1, 0]}}, "tls.trustedCaGenerations[1]", "0", "≥ 1", id="tls-generation-zero"
    ),
    pytest.param({"tls": {"caGeneration": 0}}, "tls.caGeneration", "0", "≥ 1", id="tls-signer-zero"),
    pytest.param(
        {"tls": {"trustedCaGenerations": [1, 1]}},
        "tls.trustedCaGenerations[1]",
        "1",
        "each generation once",
        id="tls-generation-twice",
    ),
    pytest.param(
        {"nodeTrust": {"enabled": True, "platform": "docker"}},
        "nodeTrust.platform",
        '"docker"',
        "containerd, k3s or rke2",
        id="node-trust-platform-unknown",
    ),
    pytest.param({"image": "registry"}, "image", '"registry"', "pinned tag", id="image-untagged"),
    pytest.param({"image": "registry:latest"}, "image", '"registry:latest"', "not :latest", id="image-latest"),
    pytest.param({"image": "Registry::3"}, "image", '"Registry::3"', "image reference", id="image-garbage"),
    pytest.param({"bcryptCost": 3}, "bcryptCost", "3", "from 4 to 14", id="bcrypt-too-cheap"),
    pytest.param({"bcryptCost": 16}, "bcryptCost", "16", "supplied passwords", id="bcrypt-too-dear"),
    pytest.param({"namespace": "Kube_Infra"}, "namespace", '"Kube_Infra"', "DNS label", id="namespace-invalid"),
    pytest.param({"name": "1registry"}, "name", '"1registry"', "starting with a letter", id="name-starts-with-digit"),
    pytest.param(
        {"users": [{"name": "a"}, {"name": "a"}]},
        "users[1].name",
        "(value hidden)",
        "each user name once",
        id="users-duplicated",
    ),
    pytest.param({"users": [{"name": "a b"}]}, "users[0].name", "(value hidden)", "white space", id="user-with-space"),
    pytest.param(
        {"users": [{"name": "ci", "role": "admin"}]},
        "users[0].role",
        "(value hidden)",
        "only the keys",
        id="user-unknown-key",
    ),
    pytest.param({"storage": "fast"}, "storage", '"fast"', "an object", id="storage-not-json"),
    pytest.param({"storage": None}, "storage", "null", "an object", id="storage-null"),
    pytest.param({"users": "registry:Passw0rd"}, "users", "(value hidden)", "list of", id="users-not-json"),
    pytest.param({"hostname": ["x.example.com"]}, "hostname", "", "not a config key", id="unknown-top-level-key"),
]


@pytest.mark.parametrize(("raw", "key", "shown", "allowed"), BAD_INPUTS)
def test_bad_input_names_key_value_and_what_is_allowed(
    raw: dict[str, object], key: str, shown: str, allowed: str
) -> None:
    problems = problems_of(**raw)
    matching = [problem for problem in problems if problem.startswith(f"image-registry:{key}:")]
    assert matching, problems
    assert shown in matching[0]
    assert "allowed:" in matching[0]
    assert allowed in matching[0]


def test_missing_hostnames_says_how_to_set_them() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({})
    assert "image-registry:hostnames: is required" in str(caught.value)
    assert "pulumi config set --path 'hostnames[0]'" in str(caught.value)


def test_text_that_is_not_json_is_one_problem_and_never_echoes_users() -> None:
    assert len(problems_of(storage="fast")) == 1
    (problem,) = problems_of(users="registry:Passw0rd")
    assert "Passw0rd" not in problem


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(replicas=0, bcryptCost=99, image="registry:latest")
    assert len(problems) == 3


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("x" * 73, id="longer-than-bcrypt"),
        pytest.param("line\nbreak", id="control-character"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_password_is_refused_without_showing_it(password: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(users=[{"name": "ci", "password": password}])
    message = str(caught.value)
    assert "image-registry:users[0].password" in message
    assert "allowed:" in message
    if password:
        assert password not in message


def test_a_password_in_plain_text_config_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"hostnames": HOSTS, "users": json.dumps([{"name": "ci", "password": "plain-Passw0rd"}])})
    message = str(caught.value)
    assert "image-registry:users[0].password: (value hidden) is not allowed; allowed: a secret" in message
    assert "stored in plain text" in message
    assert "pulumi config set --secret --path 'users[0].password'" in message
    assert "plain-Passw0rd" not in message


def test_program_registers_nothing_when_settings_are_bad() -> None:
    config = dev_config()
    config["image-registry:replicas"] = "0"
    mocks = FaithfulMocks()
    monitor = RecordingMonitor(mocks)
    with pytest.raises(pulumi.RunError, match=r"image-registry:replicas: 0 is not allowed"):
        run_program(config, mocks, monitor=monitor)
    assert monitor.registrations == {}
    assert mocks.created == []


def test_every_problem_of_every_object_at_once() -> None:
    problems = problems_of(
        hostnames=["Bad_Host"],
        storage={"size": "lots"},
        ingress={"controller": "haproxy"},
        tls={"organization": ""},
        users=[{"name": "a:b"}],
    )
    keys = sorted(problem.split(": ", 1)[0] for problem in problems)
    assert keys == [
        "image-registry:hostnames[0]",
        "image-registry:ingress.controller",
        "image-registry:storage.size",
        "image-registry:tls.organization",
        "image-registry:users[0].name",
    ]


# Rules between keys still report when the key they read failed: from what its raw value says.
@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        pytest.param(
            {"replicas": 2, "storage": {"size": "20GB"}},
            ["replicas", "storage.size"],
            id="replicas-on-the-default-claim-whose-size-is-wrong",
        ),
        pytest.param(
            {"replicas": 2, "storage": {"type": "emptyDir", "size": "5Gi"}},
            ["replicas", "storage.size"],
            id="replicas-on-emptydir-with-a-wrong-key",
        ),
        pytest.param(
            {"replicas": 2, "storage": {"accessMode": "ReadWriteOncePod", "existingClaim": "data", "size": "5Gi"}},
            ["replicas", "storage.size"],
            id="replicas-when-the-storage-object-as-a-whole-fails",
        ),
        pytest.param(
            {
                "storage": {"size": "lots", "accessMode": "ReadWriteMany"},
                "maintenance": {"readOnly": True, "garbageCollect": {"schedule": "@daily"}},
            },
            ["maintenance.garbageCollect", "storage.size"],
            id="gc-without-deletes-whose-size-is-wrong",
        ),
        pytest.param(
            {"replicas": 2, "storage": {"accessMode": "ReadWriteMny"}},
            ["storage.accessMode"],
            id="not-guessed-when-the-field-it-reads-failed",
        ),
        pytest.param({"replicas": 2, "storage": {"type": "nfs"}}, ["storage.type"], id="not-guessed-unknown-type"),
        pytest.param({"replicas": 2, "storage": "fast"}, ["storage"], id="not-guessed-not-an-object"),
        pytest.param({"namespace": "default", "createNamespace": "yes"}, ["createNamespace"], id="not-guessed-scalar"),
        pytest.param(
            {"replicas": 3, "storage": {"type": "s3", "bucket": "Bad_Bucket"}},
            ["storage.bucket"],
            id="s3-every-pod-mounts-whatever-its-bucket",
        ),
    ],
)
def test_dependent_rules_report_from_the_raw_value_of_a_key_that_failed(
    raw: dict[str, object], keys: list[str]
) -> None:
    found = sorted(problem.split(":")[1] for problem in problems_of(**raw))
    assert found == keys


def test_the_dependent_message_says_what_the_raw_value_holds() -> None:
    problems = problems_of(replicas=2, storage={"size": "20GB"})
    assert "image-registry:replicas: 2 is not allowed; allowed: 1 with storage.accessMode ReadWriteOnce; " in "".join(
        problems
    )


def test_a_plain_password_is_reported_whatever_name_is() -> None:
    """The rule on the generated user's name reads `name`; the password rule must not wait for it."""
    raw = {"hostnames": HOSTS, "name": "1registry", "users": json.dumps([{"name": "ci", "password": "p"}])}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw)
    assert sorted(problem.split(":")[1] for problem in caught.value.problems) == ["name", "users[0].password"]
