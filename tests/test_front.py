"""The front: TLS and authentication in the registry's pod, its Caddy config from a Secret, reloaded in place."""

from __future__ import annotations

import json
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.settings import DEFAULT_FRONT_IMAGE
from components.workload.front import RELOAD_TIMEOUT_SECONDS
from components.workload.front_config import DRAIN_SECONDS, SHUTDOWN_DELAY_SECONDS
from harness.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, run_program
from harness.program_run import secret_data
from tests.conftest import RunProgram
from tests.front_routes import caddy_config, server
from tests.rendered import container, environment, mounts, secret_named, volumes


def handlers(run: ProgramRun) -> list[dict[str, Any]]:
    """Every handler of the server's routes and error routes, subroutes included."""
    found: list[dict[str, Any]] = []

    def walk(routes: list[dict[str, Any]]) -> None:
        for route in routes:
            for handler in route.get("handle", []):
                found.append(handler)
                walk(handler.get("routes", []))

    walk(server(caddy_config(run))["routes"])
    walk(server(caddy_config(run))["errors"]["routes"])
    return found


def of_kind(run: ProgramRun, kind: str) -> list[dict[str, Any]]:
    return [handler for handler in handlers(run) if handler["handler"] == kind]


def test_the_front_serves_https_on_the_services_port(dev_run: ProgramRun) -> None:
    front = container(dev_run, "front")
    assert front["image"] == DEFAULT_FRONT_IMAGE
    assert "@sha256:" in front["image"]
    assert {port["name"]: port["containerPort"] for port in front["ports"]} == {"https": 5000}
    assert server(caddy_config(dev_run))["listen"] == [":5000"]
    assert front["readinessProbe"]["httpGet"] == {"path": "/", "port": "https", "scheme": "HTTPS"}
    assert front["livenessProbe"]["tcpSocket"] == {"port": "https"}


def test_only_the_root_is_open_and_everything_reaches_the_one_registry(dev_run: ProgramRun) -> None:
    routes = server(caddy_config(dev_run))["routes"]
    # Before it: the removal of Caddy's Server header, the refusal of no host. After it, the unknown claims' 401.
    (open_route,) = [route for route in routes if route.get("terminal") and "reverse_proxy" in json.dumps(route)]
    assert routes.index(open_route) == 2
    # Reads of `/` as sent: not what the path matcher cleans to `/` (`//`, `/v2/..`), and no other method.
    assert open_route["match"] == [{"method": ["GET", "HEAD"], "vars": {"{http.request.uri.path}": ["/"]}}]
    assert [handler["handler"] for handler in open_route["handle"]] == ["reverse_proxy"]
    assert routes[-1] == {"handle": [open_route["handle"][0]]}, "the last route proxies what passed every check"
    proxies = of_kind(dev_run, "reverse_proxy")
    assert {proxy["upstreams"][0]["dial"] for proxy in proxies} == {environment(dev_run)["REGISTRY_HTTP_ADDR"]}
    (basic,) = [handler["providers"]["http_basic"] for handler in of_kind(dev_run, "authentication")]
    assert basic["hash"] == {"algorithm": "bcrypt"}
    assert basic["realm"] == "image-registry"
    # The cache is what makes a request cheap: each credential is checked by bcrypt once.
    assert basic["hash_cache"] == {}


def test_tls_from_the_server_certificate_at_tls_1_2_or_later(dev_run: ProgramRun) -> None:
    (policy,) = server(caddy_config(dev_run))["tls_connection_policies"]
    assert policy["protocol_min"] == "tls1.2"
    (loaded,) = caddy_config(dev_run)["apps"]["tls"]["certificates"]["load_files"]
    assert set(policy["certificate_selection"]["any_tag"]) <= set(loaded["tags"])
    directory = loaded["certificate"].rpartition("/")[0]
    assert loaded["key"].rpartition("/")[0] == directory
    tls_mount = mounts(dev_run, "front")[directory]
    assert tls_mount["readOnly"] is True
    secret = secret_named(dev_run, volumes(dev_run)[tls_mount["name"]]["secret"]["secretName"])
    assert secret["type"] == "kubernetes.io/tls"
    certificate = x509.load_pem_x509_certificate(secret_data(secret)[loaded["certificate"].rpartition("/")[2]].encode())
    key = serialization.load_pem_private_key(secret_data(secret)[loaded["key"].rpartition("/")[2]].encode(), None)
    assert key.public_key() == certificate.public_key()
    assert secret_data(secret)["ca.crt"] == dev_run.outputs["caCertPem"]
    assert server(caddy_config(dev_run))["automatic_https"] == {"disable": True}
    # A client certificate is asked for, never required: the ingress controller's, from the stack's CA.
    assert policy["client_authentication"] == {
        "ca": {"provider": "file", "pem_files": [f"{directory}/ca.crt"]},
        "mode": "verify_if_given",
    }
    items = {item["key"] for item in volumes(dev_run)[tls_mount["name"]]["secret"]["items"]}
    assert items == {"tls.crt", "tls.key", "ca.crt"}


def test_requests_are_small_and_http_3_is_off(dev_run: ProgramRun) -> None:
    registry = server(caddy_config(dev_run))
    # No UDP listener, no Alt-Svc advertising one through the Ingress.
    assert registry["protocols"] == ["h1", "h2"]
    assert registry["max_header_bytes"] == 16 * 1024
    assert registry["read_header_timeout"] == "10s"
    # The ingress controller's SNI (the Service name) is not its Host (the external name).
    assert registry["strict_sni_host"] is False


def test_the_admin_endpoint_is_a_socket_no_other_container_reaches(dev_run: ProgramRun) -> None:
    admin = caddy_config(dev_run)["admin"]
    assert admin["config"] == {"persist": False}
    socket = admin["listen"].removeprefix("unix/")
    assert admin["listen"] == f"unix/{socket}"
    front_scratch = mounts(dev_run, "front")[socket.rpartition("/")[0]]
    assert volumes(dev_run)[front_scratch["name"]]["emptyDir"] == {"sizeLimit": "64Mi"}
    assert front_scratch["name"] not in {mount["name"] for mount in container(dev_run)["volumeMounts"]}
    writable = [path for path, mount in mounts(dev_run, "front").items() if not mount.get("readOnly")]
    assert writable == [socket.rpartition("/")[0]]
    assert all(item["value"].startswith(writable[0]) for item in container(dev_run, "front")["env"])


def test_a_new_config_is_offered_to_the_running_front_and_a_bad_one_kept_out(dev_run: ProgramRun) -> None:
    command = container(dev_run, "front")["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    (script,) = command[2:]
    assert "--watch" not in script, "Caddy's watcher gives up for good after one bad read"
    config_file = re.search(r"config=(\S+)", script)
    assert config_file is not None
    assert script.rstrip().endswith('exec caddy run --config "$config"'), "Caddy gets the container's signals"
    socket = caddy_config(dev_run)["admin"]["listen"]
    assert f'caddy reload --config "$tried" --address "{socket}"' in script
    # A reload waits up to the grace period for the old config's requests, then for nothing more.
    assert f"timeout {RELOAD_TIMEOUT_SECONDS} caddy reload " in script
    assert DRAIN_SECONDS < RELOAD_TIMEOUT_SECONDS <= 2 * DRAIN_SECONDS
    mount = mounts(dev_run, "front")[config_file.group(1).rpartition("/")[0]]
    assert mount["readOnly"] is True
    assert all("subPath" not in item for item in container(dev_run, "front")["volumeMounts"])
    registration = next(item for item in dev_run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-auth"))
    assert contains_secret(registration.inputs["stringData"])
    assert registration.delete_before_replace is True


def test_a_new_user_changes_the_config_under_the_same_name() -> None:
    mocks = FaithfulMocks()
    before = run_program(dev_config(), mocks)
    after = run_program({**dev_config(), "image-registry:users": '[{"name": "registry"}, {"name": "ci"}]'}, mocks)
    (basic,) = [handler["providers"]["http_basic"] for handler in of_kind(after, "authentication")]
    assert [account["username"] for account in basic["accounts"]] == ["registry", "ci", "image-registry-pull"]
    name_of = [volumes(run)["front-config"]["secret"]["secretName"] for run in (before, after)]
    assert name_of[0] == name_of[1] == "image-registry-auth"
    assert container(before, "front") == container(after, "front"), "the pod template stays: no rollout"


def test_only_the_front_says_who_and_where_the_client_is(dev_run: ProgramRun) -> None:
    (proxy, *_) = of_kind(dev_run, "reverse_proxy")
    request = proxy["headers"]["request"]
    # The registry builds upload URLs from Forwarded first, then X-Forwarded-*; Caddy sets -Proto and -Host.
    assert request["delete"] == ["Forwarded"]
    assert request["set"] == {"X-Forwarded-For": ["{http.vars.client_ip}"]}
    assert "response" not in proxy["headers"]
    hops = {"handle": [{"handler": "headers", "response": {"delete": ["Server", "Via"], "deferred": True}}]}
    assert server(caddy_config(dev_run))["routes"][0] == hops
    assert server(caddy_config(dev_run))["errors"]["routes"][0] == hops
    assert "trusted_proxies" not in server(caddy_config(dev_run)), "no client's X-Forwarded-* would be replaced"
    assert all("trusted_proxies" not in proxy for proxy in of_kind(dev_run, "reverse_proxy"))


def test_the_client_address_comes_from_the_ingress_controller_only(dev_run: ProgramRun) -> None:
    (route,) = [
        route for route in server(caddy_config(dev_run))["routes"] if "vars_regexp" in route.get("match", [{}])[0]
    ]
    (subject,) = route["match"][0]["vars_regexp"].values()
    assert list(route["match"][0]["vars_regexp"]) == ["{http.request.tls.client.subject}"]
    checks = re.compile(subject["pattern"])
    assert checks.match("CN=image-registry-ingress,O=infra-services")
    assert not checks.match("CN=image-registry-ingress-x,O=infra-services")
    assert not checks.match("CN=someone")
    mapping, variables = route["handle"]
    assert mapping["source"] == "{http.request.header.X-Forwarded-For}"
    rightmost = re.compile(mapping["mappings"][0]["input_regexp"])
    for header, client in [("203.0.113.7", "203.0.113.7"), ("6.6.6.6, 203.0.113.7", "203.0.113.7"),
                           ("2001:db8::1", "2001:db8::1"), ("1.1.1.1,10.0.0.9 ", "10.0.0.9")]:  # fmt: skip
        match = rightmost.search(header)
        assert match is not None, header
        assert match.group(1) == client, header
    assert rightmost.search("6.6.6.6, not-an-address") is None
    assert variables == {"handler": "vars", "client_ip": mapping["destinations"][0]}


def test_one_api_version_header_on_every_answer(dev_run: ProgramRun) -> None:
    # The registry sets it on its answers; the front only on those it writes itself.
    for handler in of_kind(dev_run, "headers"):
        assert "Docker-Distribution-Api-Version" not in json.dumps(handler), handler
    for answer in of_kind(dev_run, "static_response"):
        assert answer["headers"]["Docker-Distribution-Api-Version"] == ["registry/2.0"]


def error_route(run: ProgramRun, message: str, status: int = 502) -> dict[str, Any]:
    """The first error route that answers a proxy error of `message` (Caddy's matchers, as Caddy runs them)."""
    for route in server(caddy_config(run))["errors"]["routes"]:
        (match,) = route.get("match", [None])
        if match is None:
            continue
        if "expression" in match:
            operator, limit = match["expression"].removeprefix("{http.error.status_code} ").split()
            matches = status == int(limit) if operator == "==" else status >= int(limit)
        else:
            matches = re.search(match["vars_regexp"]["{http.error.message}"]["pattern"], message) is not None
        if matches:
            answer: dict[str, Any] = route["handle"][0]
            return answer
    raise AssertionError(f"no error route answers {status} {message!r}")


def test_errors_are_answered_as_the_registry_answers_them(dev_run: ProgramRun) -> None:
    unauthorized = error_route(dev_run, "not authenticated", 401)
    assert json.loads(unauthorized["body"])["errors"][0]["code"] == "UNAUTHORIZED"
    # What Go says when nothing listens on the registry's port, or the dial timed out (504).
    for refused, status in [("dial tcp 127.0.0.1:5002: connect: connection refused", 502),
                            ("dial tcp 127.0.0.1:5002: i/o timeout", 504)]:  # fmt: skip
        answer = error_route(dev_run, refused, status)
        assert answer["status_code"] == 503
        assert json.loads(answer["body"])["errors"][0]["code"] == "UNAVAILABLE"
        assert answer["headers"]["Retry-After"] == ["5"]


def test_a_clients_short_body_is_the_clients_error_not_an_outage(dev_run: ProgramRun) -> None:
    # Go's errors as the proxy meets them: HTTP/2's END_STREAM before the Content-Length, a connection gone.
    for message in ["readfrom tcp 127.0.0.1:42244->127.0.0.1:5002: request declared a Content-Length of 10 but "
                    "only wrote 3 bytes", "request declared a Content-Length of 10 but only wrote 3 bytes",
                    "readfrom tcp 127.0.0.1:1->127.0.0.1:5002: unexpected EOF"]:  # fmt: skip
        answer = error_route(dev_run, message)
        assert answer["status_code"] == 400, message
        assert json.loads(answer["body"])["errors"][0]["code"] == "SIZE_INVALID"
    # The registry gone mid-answer: its side, but it was reached; still its JSON, never an empty 502.
    for message in ["readfrom tcp 127.0.0.1:1->127.0.0.1:5002: write: connection reset by peer",
                    "net/http: HTTP/1.x transport connection broken: unexpected EOF", "EOF"]:  # fmt: skip
        answer = error_route(dev_run, message)
        assert answer["status_code"] == 502, message
        assert "Retry-After" not in answer["headers"]


def test_only_a_connection_never_made_or_a_read_without_a_body_is_tried_again(dev_run: ProgramRun) -> None:
    for proxy in of_kind(dev_run, "reverse_proxy"):
        balancing = proxy["load_balancing"]
        assert (balancing["try_duration"], balancing["try_interval"]) == ("5s", "250ms")
        # Caddy tries a failed dial again whatever the request; any other failure only when this matches.
        assert balancing["retry_match"] == [
            {"method": ["GET", "HEAD"], "header": {"Content-Length": None, "Transfer-Encoding": None}}
        ]


def test_a_request_naming_no_host_never_reaches_the_registry(dev_run: ProgramRun) -> None:
    routes = server(caddy_config(dev_run))["routes"]
    # Right after the hop's header removal: before the open root, before anything is proxied.
    refusal = routes[1]
    assert refusal["match"] == [{"vars": {"{http.request.host}": [""]}}]
    assert refusal["terminal"] is True
    (answer,) = refusal["handle"]
    assert answer["status_code"] == 400
    assert json.loads(answer["body"])["errors"][0]["code"] == "UNSUPPORTED"


def test_one_json_access_line_per_request_on_stdout_without_headers(dev_run: ProgramRun) -> None:
    logs = caddy_config(dev_run)["logging"]["logs"]
    assert server(caddy_config(dev_run))["logs"] == {"default_logger_name": "registry"}
    access = logs["access"]
    assert access["include"] == ["http.log.access.registry"]
    assert logs["default"]["exclude"] == ["http.log.access.registry"]
    assert access["writer"] == {"output": "stdout"}
    assert access["level"] == "INFO", "refusals (401, 403) are logged at info"
    encoder = access["encoder"]
    assert encoder["format"] == "filter"
    assert encoder["wrap"]["format"] == "json"
    for field in ("request>headers", "request>tls", "resp_headers"):
        assert encoder["fields"][field] == {"filter": "delete"}
    assert logs["default"]["encoder"] == encoder, "the proxy's warnings name the request too"
    claim, client = of_kind(dev_run, "log_append")
    assert claim == {"handler": "log_append", "key": "claimed_user", "value": "{http.vars.claimed_user}"}
    assert client == {"handler": "log_append", "key": "client", "value": "{http.vars.client_ip}"}


def test_rollouts_drain_in_order(dev_run: ProgramRun) -> None:
    http = caddy_config(dev_run)["apps"]["http"]
    assert http["shutdown_delay"] == f"{SHUTDOWN_DELAY_SECONDS}s"
    assert http["grace_period"] == f"{DRAIN_SECONDS}s"
    assert environment(dev_run)["REGISTRY_HTTP_DRAINTIMEOUT"] == f"{DRAIN_SECONDS}s"
    pod = dev_run.manifest("Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_DELAY_SECONDS + DRAIN_SECONDS
    # The registry takes SIGTERM only once the front has stopped taking requests (its port 5000 = 0x1388).
    (script,) = container(dev_run)["lifecycle"]["preStop"]["exec"]["command"][2:]
    assert ":1388 " in script
    assert "/proc/net/tcp6" in script
    assert "lifecycle" not in container(dev_run, "front"), "Caddy's shutdown_delay keeps it serving after SIGTERM"


def test_only_the_capability_its_binary_needs(dev_run: ProgramRun) -> None:
    # The image's caddy binary carries cap_net_bind_service: the kernel refuses to run it without it
    # in the bounding set. The restricted Pod Security profile allows adding this one, and only it.
    security = container(dev_run, "front")["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}


def test_the_front_image_is_the_stacks_choice(run_with: RunProgram) -> None:
    image = "registry.example.com/caddy:2.10.2@sha256:" + "a" * 64
    assert container(run_with(frontImage=image), "front")["image"] == image


def logged_uri(run: ProgramRun, uri: str) -> str:
    """`uri` as the access log writes it: the regexp filter of `request>uri` (Go's RE2; Python's `re` reads this
    pattern alike), `${1}` its replacement."""
    token = caddy_config(run)["logging"]["logs"]["access"]["encoder"]["fields"]["request>uri"]
    assert token["filter"] == "regexp"
    assert token["value"] == "${1}"
    return re.sub(token["regexp"], lambda match: match.group(1), uri)


def test_no_upload_token_in_any_logged_uri(dev_run: ProgramRun) -> None:
    upload = "/v2/utils/busybox/blobs/uploads/1f0b6c"
    token = "TOKEN-aGVsbG8tdGhlcmU%3D%3D"
    for uri in [
        f"{upload}?_state={token}",
        f"{upload}?_state={token}&digest=sha256:abc",
        f"{upload}?digest=sha256:abc&_state={token}",
        # A fragment with a bad escape: Caddy's query filter gave up on the whole URI and logged it as it was.
        f"{upload}?_state={token}&y=#%zz",
        f"{upload}?y=#%zz&_state={token}",
        # The name as Go decodes it, twice over.
        f"{upload}?%5Fst%61te={token}&%5fstate={token}",
        f"{upload}?_state={token}&_state={token}",
    ]:
        logged = logged_uri(dev_run, uri)
        assert token not in logged, uri
        assert "state" not in logged.partition("?")[2], uri
        assert logged.startswith(f"{upload}?"), uri
    assert logged_uri(dev_run, f"{upload}?digest=sha256:abc") == f"{upload}?digest=sha256:abc"
    assert logged_uri(dev_run, "/v2/x/manifests/_state") == "/v2/x/manifests/_state"
