"""The front: TLS and authentication in the registry's pod, its Caddy config from a Secret."""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.settings import DEFAULT_FRONT_IMAGE
from tests.conftest import RunProgram
from tests.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, run_program
from tests.rendered import container, environment, mounts, secret_named, volumes


def caddy_config(run: ProgramRun) -> dict[str, Any]:
    (path,) = [argument for argument in container(run, "front")["command"] if argument.endswith(".json")]
    directory, _, key = path.rpartition("/")
    secret = secret_named(run, volumes(run)[mounts(run, "front")[directory]["name"]]["secret"]["secretName"])
    config: dict[str, Any] = json.loads(secret["stringData"][key])
    return config


def server(run: ProgramRun) -> dict[str, Any]:
    servers = caddy_config(run)["apps"]["http"]["servers"]
    assert list(servers) == ["registry"]
    result: dict[str, Any] = servers["registry"]
    return result


def test_the_front_serves_https_on_the_services_port(dev_run: ProgramRun) -> None:
    front = container(dev_run, "front")
    assert front["image"] == DEFAULT_FRONT_IMAGE
    assert "@sha256:" in front["image"]
    assert {port["name"]: port["containerPort"] for port in front["ports"]} == {"https": 5000}
    assert server(dev_run)["listen"] == [":5000"]
    assert front["readinessProbe"]["httpGet"] == {"path": "/", "port": "https", "scheme": "HTTPS"}
    assert front["livenessProbe"]["tcpSocket"] == {"port": "https"}


def test_everything_but_the_root_needs_credentials_and_reaches_the_registry(dev_run: ProgramRun) -> None:
    open_route, guarded_route = server(dev_run)["routes"]
    assert open_route["match"] == [{"path": ["/"]}]
    assert [handler["handler"] for handler in open_route["handle"]] == ["reverse_proxy"]
    assert "match" not in guarded_route
    assert [handler["handler"] for handler in guarded_route["handle"]] == ["headers", "authentication", "reverse_proxy"]
    upstreams = {handler["upstreams"][0]["dial"] for route in (open_route, guarded_route) for handler in route["handle"]
                 if handler["handler"] == "reverse_proxy"}  # fmt: skip
    assert upstreams == {environment(dev_run)["REGISTRY_HTTP_ADDR"]}
    basic = guarded_route["handle"][1]["providers"]["http_basic"]
    assert basic["hash"] == {"algorithm": "bcrypt"}
    assert basic["realm"] == "image-registry"
    # The cache is what makes a request cheap: each credential is checked by bcrypt once.
    assert basic["hash_cache"] == {}


def test_tls_from_the_server_certificate_at_tls_1_2_or_later(dev_run: ProgramRun) -> None:
    (policy,) = server(dev_run)["tls_connection_policies"]
    assert policy["protocol_min"] == "tls1.2"
    (loaded,) = caddy_config(dev_run)["apps"]["tls"]["certificates"]["load_files"]
    assert set(policy["certificate_selection"]["any_tag"]) <= set(loaded["tags"])
    directory = loaded["certificate"].rpartition("/")[0]
    assert loaded["key"].rpartition("/")[0] == directory
    tls_mount = mounts(dev_run, "front")[directory]
    assert tls_mount["readOnly"] is True
    secret = secret_named(dev_run, volumes(dev_run)[tls_mount["name"]]["secret"]["secretName"])
    assert secret["type"] == "kubernetes.io/tls"
    certificate = x509.load_pem_x509_certificate(
        secret["stringData"][loaded["certificate"].rpartition("/")[2]].encode()
    )
    key = serialization.load_pem_private_key(secret["stringData"][loaded["key"].rpartition("/")[2]].encode(), None)
    assert key.public_key() == certificate.public_key()
    assert secret["stringData"]["ca.crt"] == dev_run.outputs["caCertPem"]
    assert server(dev_run)["automatic_https"] == {"disable": True}


def test_no_admin_endpoint_and_nothing_written_but_scratch(dev_run: ProgramRun) -> None:
    assert caddy_config(dev_run)["admin"]["disabled"] is True
    front = container(dev_run, "front")
    writable = [path for path, mount in mounts(dev_run, "front").items() if not mount.get("readOnly")]
    assert [volumes(dev_run)[mounts(dev_run, "front")[path]["name"]].get("emptyDir") for path in writable] == [
        {"sizeLimit": "64Mi"}
    ]
    assert all(item["value"].startswith(writable[0]) for item in front["env"])


def test_the_config_is_a_secret_mounted_whole_so_user_changes_reach_it(dev_run: ProgramRun) -> None:
    (path,) = [argument for argument in container(dev_run, "front")["command"] if argument.endswith(".json")]
    assert "--watch" in container(dev_run, "front")["command"]
    mount = mounts(dev_run, "front")[path.rpartition("/")[0]]
    assert mount["readOnly"] is True
    assert all("subPath" not in item for item in container(dev_run, "front")["volumeMounts"])
    registration = next(item for item in dev_run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-auth"))
    assert contains_secret(registration.inputs["stringData"])
    assert registration.delete_before_replace is True


def test_a_new_user_changes_the_config_under_the_same_name() -> None:
    mocks = FaithfulMocks()
    before = run_program(dev_config(), mocks)
    after = run_program({**dev_config(), "image-registry:users": '[{"name": "registry"}, {"name": "ci"}]'}, mocks)
    accounts = server(after)["routes"][1]["handle"][1]["providers"]["http_basic"]["accounts"]
    assert [account["username"] for account in accounts] == ["registry", "ci"]
    name_of = [volumes(run)["front-config"]["secret"]["secretName"] for run in (before, after)]
    assert name_of[0] == name_of[1] == "image-registry-auth"


def test_only_the_capability_its_binary_needs(dev_run: ProgramRun) -> None:
    # The image's caddy binary carries cap_net_bind_service: the kernel refuses to run it without it
    # in the bounding set. The restricted Pod Security profile allows adding this one, and only it.
    security = container(dev_run, "front")["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}


def test_the_front_image_is_the_stacks_choice(run_with: RunProgram) -> None:
    image = "registry.example.com/caddy:2.10.2@sha256:" + "a" * 64
    assert container(run_with(frontImage=image), "front")["image"] == image
