"""Settings of the pull-through caches (`mirrors`): defaults, every refusal in one line, the mirror user, the schema."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from components.settings import Settings, SettingsError, User, parse_settings
from components.settings.mirrors import Duration, RemoteUrl, Upstream
from components.settings.schema import stack_file_schema

HOSTS = ["registry.example.com"]
SECRET = "Upstream-T0ken-Sekr1t"


def parse(secret: bool = True, **raw: Any) -> Settings:
    """Settings from raw config; `users` and `mirrors` secret keys (a password set with --secret makes them so)."""
    values = {"hostnames": json.dumps(HOSTS), **{key: json.dumps(value) for key, value in raw.items()}}
    return parse_settings(values, secret_keys={"users", "mirrors"} if secret else {"users"})


def problems_of(secret: bool = True, **raw: Any) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse(secret, **raw)
    return caught.value.problems


def test_the_defaults_of_each_well_known_upstream() -> None:
    settings = parse(mirrors=[{"upstream": u} for u in ("docker.io", "ghcr.io", "quay.io", "registry.k8s.io")])
    assert [m.url for m in settings.mirrors] == [
        "https://registry-1.docker.io",
        "https://ghcr.io",
        "https://quay.io",
        "https://registry.k8s.io",
    ]
    assert [m.path for m in settings.mirrors] == [
        "mirror/docker.io",
        "mirror/ghcr.io",
        "mirror/quay.io",
        "mirror/registry.k8s.io",
    ]
    for mirror in settings.mirrors:
        assert (mirror.ttl, mirror.repositories) == ("168h", ("*",))
        assert (mirror.remote_url, mirror.username, mirror.password) == (None, None, None)


def test_every_key_given() -> None:
    mirror = {
        "upstream": "docker.io",
        "remoteUrl": "https://hub-cache.example.com:8443/",
        "username": "bot",
        "password": SECRET,
        "repositories": ["library/*", "bitnami/redis"],
        "ttl": "1h30m",
    }
    (parsed,) = parse(mirrors=[mirror]).mirrors
    assert parsed.url == "https://hub-cache.example.com:8443"
    assert (parsed.username, parsed.password) == ("bot", SECRET)
    assert (parsed.repositories, parsed.ttl) == (("library/*", "bitnami/redis"), "1h30m")
    assert SECRET not in repr(parsed)


def test_an_access_token_longer_than_bcrypts_limit_is_taken() -> None:
    # Not hashed: a GitHub fine-grained token is 93 characters.
    token = "github_pat_" + "A1b2" * 21
    (parsed,) = parse(mirrors=[{"upstream": "ghcr.io", "username": "bot", "password": token}]).mirrors
    assert parsed.password == token


def test_no_mirrors_no_mirror_user() -> None:
    settings = parse()
    assert settings.mirrors == ()
    assert settings.mirror_user is None
    assert [user.name for user in settings.registry_users] == ["registry", "image-registry-pull"]


@pytest.mark.parametrize(
    ("users", "names"),
    [
        pytest.param([{"name": "ci"}], ["ci", "hub-pull", "hub-mirror"], id="generated-pull-user"),
        pytest.param(
            [{"name": "ci"}, {"name": "nodes", "access": "pull"}], ["ci", "nodes", "hub-mirror"], id="own-pull-user"
        ),
    ],
)
def test_the_mirror_user_pulls_mirrors_only_and_comes_last(users: list[dict[str, str]], names: list[str]) -> None:
    settings = parse(name="hub", users=users, mirrors=[{"upstream": "docker.io"}])
    assert settings.mirror_user == User(name="hub-mirror", access="pull", repositories=("mirror/*",))
    assert settings.mirror_user.password is None  # generated, like the pull user's
    assert [user.name for user in settings.registry_users] == names
    assert settings.registry_users[-1] == settings.mirror_user


def test_a_user_may_have_the_mirror_users_name_without_mirrors() -> None:
    assert parse(name="hub", users=[{"name": "hub-mirror"}]).mirror_user is None


def at(index: int, key: str) -> str:
    return f"image-registry:mirrors[{index}].{key}: (value hidden) is not allowed; allowed: "


UPSTREAM = at(0, "upstream") + "a registry host as images spell it, such as docker.io or ghcr.io (lowercase, no port)"
TTL = at(0, "ttl") + "a positive duration in hours, minutes or seconds, such as 168h or 90m"
URL = at(0, "remoteUrl") + "an https:// URL of a registry's API root, such as https://registry-1.docker.io (no path)"
SECRET_ADVICE = "a secret, set with `pulumi config set --secret --path 'mirrors[0].password' …`"
BAD = [
    pytest.param({"upstream": "Docker.io"}, UPSTREAM, id="upstream-uppercase"),
    pytest.param({"upstream": "docker.io:443"}, UPSTREAM, id="upstream-port"),
    pytest.param({"upstream": "https://ghcr.io"}, UPSTREAM, id="upstream-url"),
    pytest.param({"upstream": "localhost"}, UPSTREAM, id="upstream-no-dot"),
    pytest.param({"upstream": "docker.io/library"}, UPSTREAM, id="upstream-path"),
    pytest.param({"upstream": "docker.io", "ttl": "0h"}, TTL, id="ttl-zero"),
    pytest.param({"upstream": "docker.io", "ttl": "7d"}, TTL, id="ttl-days"),
    pytest.param({"upstream": "docker.io", "ttl": "168"}, TTL, id="ttl-no-unit"),
    pytest.param({"upstream": "docker.io", "ttl": ""}, TTL, id="ttl-empty"),
    pytest.param({"upstream": "docker.io", "remoteUrl": "http://registry-1.docker.io"}, URL, id="url-http"),
    pytest.param({"upstream": "docker.io", "remoteUrl": "https://hub.example.com/v2"}, URL, id="url-path"),
    pytest.param({"upstream": "docker.io", "remoteUrl": "registry-1.docker.io"}, URL, id="url-no-scheme"),
    pytest.param(
        {"upstream": "docker.io", "username": "bot"},
        at(0, "password") + "username and password together: password is missing",
        id="username-without-password",
    ),
    pytest.param(
        {"upstream": "docker.io", "password": SECRET},
        at(0, "username") + "username and password together: username is missing",
        id="password-without-username",
    ),
    pytest.param(
        {"upstream": "docker.io", "username": "bot:x", "password": SECRET},
        at(0, "username") + "a user name at the upstream without ':' or white space",
        id="username-colon",
    ),
    pytest.param(
        {"upstream": "docker.io", "username": "bot", "password": ""},
        at(0, "password") + "a non-empty password or token of printable characters, at most 4096",
        id="password-empty",
    ),
    pytest.param(
        {"upstream": "docker.io", "username": "bot", "password": SECRET + "\n"},
        at(0, "password") + "a non-empty password or token of printable characters, at most 4096",
        id="password-newline",
    ),
    pytest.param(
        {"upstream": "docker.io", "username": "bot", "password": SECRET * 200},
        at(0, "password") + "a non-empty password or token of printable characters, at most 4096",
        id="password-too-long",
    ),
    pytest.param(
        {"upstream": "docker.io", "repositories": []},
        "image-registry:mirrors[0].repositories: (value hidden) is not allowed; allowed: a non-empty list of the "
        "upstream's repository names or patterns",
        id="no-repositories",
    ),
    pytest.param(
        {"upstream": "docker.io", "repositories": ["Library/*"]},
        "image-registry:mirrors[0].repositories[0]: (value hidden) is not allowed; allowed: a repository name or "
        "pattern",
        id="repository-uppercase",
    ),
    pytest.param(
        {"upstream": "docker.io", "repositories": ["library/*", "library/*"]},
        "image-registry:mirrors[0].repositories[1]: (value hidden) is not allowed; allowed: each pattern once",
        id="repository-twice",
    ),
    pytest.param(
        {"upstream": "docker.io", "passwd": SECRET},
        "image-registry:mirrors[0].passwd: (value hidden) is not allowed; allowed: only the keys upstream, remoteUrl",
        id="misspelt-password-key",
    ),
    pytest.param(
        {"upstream": "docker.io", "username": "bot", "password": 12345678},
        at(0, "password"),
        id="password-not-a-string",
    ),
]


@pytest.mark.parametrize(("mirror", "line"), BAD)
def test_a_bad_mirror_is_one_line_naming_the_key_hiding_its_value(mirror: dict[str, Any], line: str) -> None:
    (found,) = problems_of(mirrors=[mirror])
    assert found.startswith(line), found
    assert SECRET not in found
    assert "12345678" not in found


@pytest.mark.parametrize("secret", [True, False], ids=["secret-key", "plain-key"])
def test_each_upstream_once(secret: bool) -> None:
    (found,) = problems_of(
        secret, mirrors=[{"upstream": "ghcr.io"}, {"upstream": "docker.io"}, {"upstream": "ghcr.io"}]
    )
    assert found == (
        "image-registry:mirrors[2].upstream: (value hidden) is not allowed; allowed: each upstream once "
        "(the same as mirrors[0].upstream)"
    )


def test_an_upstream_that_is_one_of_the_hostnames() -> None:
    (found,) = problems_of(mirrors=[{"upstream": "docker.io"}, {"upstream": "registry.example.com"}])
    assert found == (
        "image-registry:mirrors[1].upstream: (value hidden) is not allowed; allowed: an upstream other than this "
        "registry's own hostnames"
    )


def test_a_plain_text_password_is_refused_without_showing_it() -> None:
    # Without --secret, the engine holds `mirrors` in plain text.
    (found,) = problems_of(False, mirrors=[{"upstream": "docker.io", "username": "bot", "password": SECRET}])
    assert found.startswith(at(0, "password") + SECRET_ADVICE), found


def test_a_plain_text_password_is_refused_even_when_the_key_is_secret() -> None:
    # One secure leaf makes the key secret; the stack file says the other password is plain.
    mirrors = [
        {"upstream": "docker.io", "username": "bot", "password": SECRET},
        {"upstream": "ghcr.io", "username": "bot", "password": SECRET},
    ]
    raw = {"hostnames": json.dumps(HOSTS), "mirrors": json.dumps(mirrors)}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, secret_keys={"mirrors"}, plain_leaves={"mirrors[1].password", "mirrors[1].upstream"})
    (found,) = caught.value.problems
    assert found.startswith(at(1, "password").replace("[0]", "[1]") + SECRET_ADVICE.replace("[0]", "[1]")), found


@pytest.mark.parametrize(
    ("name", "users", "index"),
    [
        pytest.param("image-registry", [{"name": "registry"}, {"name": "image-registry-mirror"}], 1, id="default"),
        pytest.param("hub", [{"name": "hub-mirror", "access": "pull"}], 0, id="named-stack"),
    ],
)
def test_a_user_with_the_mirror_users_name_while_mirrors_are_set(
    name: str, users: list[dict[str, str]], index: int
) -> None:
    (found,) = problems_of(name=name, users=users, mirrors=[{"upstream": "docker.io"}])
    assert found == (
        f"image-registry:mirrors: (value hidden) is not allowed; allowed: no mirrors while users[{index}] is named "
        f"{name}-mirror, the name of the user the stack generates for the nodes to pull through them: rename that user"
    )


def test_every_mirror_problem_at_once() -> None:
    found = problems_of(
        mirrors=[{"upstream": "Docker.io", "ttl": "0s"}, {"upstream": "quay.io", "username": "bot"}, "ghcr.io"]
    )
    keys = [line.split(":")[1] for line in found]
    assert keys == ["mirrors[0].upstream", "mirrors[0].ttl", "mirrors[1].password", "mirrors[2]"]


MIRROR_KEYS = {"upstream", "remoteUrl", "username", "password", "repositories", "ttl"}


def test_the_schema_lists_every_key_with_its_pattern() -> None:
    schema = stack_file_schema()
    mirrors = schema["properties"]["config"]["properties"]["image-registry:mirrors"]["anyOf"][0]
    assert mirrors["type"] == "array"
    assert mirrors["items"] == {"$ref": "#/$defs/Mirror"}
    mirror = schema["$defs"]["Mirror"]
    assert set(mirror["properties"]) == MIRROR_KEYS
    assert mirror["required"] == ["upstream"]
    assert mirror["additionalProperties"] is False
    properties = mirror["properties"]
    assert properties["upstream"]["pattern"] == pattern_of(Upstream)
    assert properties["ttl"]["pattern"] == pattern_of(Duration)
    assert properties["ttl"]["default"] == "168h"
    assert properties["remoteUrl"]["anyOf"][0]["pattern"] == pattern_of(RemoteUrl)
    assert properties["username"]["anyOf"][0]["pattern"] == r"^[^\s:]+$"
    assert properties["password"]["anyOf"][0]["required"] == ["secure"]
    assert properties["repositories"]["items"]["pattern"]
    assert properties["repositories"]["minItems"] == 1
    assert properties["repositories"]["uniqueItems"] is True


def accepts(annotation: Any, value: str) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True


def pattern_of(annotation: Any) -> str:
    """The pattern a constrained type gives the JSON Schema."""
    return str(TypeAdapter(annotation).json_schema()["pattern"])


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        *[(Upstream, name) for name in ("docker.io", "registry.k8s.io", "Docker.io", "docker.io:5000", "localhost")],
        *[(Upstream, name) for name in ("-a.io", "a-.io", "a..io", "a_b.io", "a" * 64 + ".io", "")],
        *[(Duration, text) for text in ("168h", "90m", "1h30m", "45s", "0h", "0", "", "7d", "1.5h", "h", "00h01m")],
        *[(RemoteUrl, url) for url in ("https://ghcr.io", "https://a.io:8443/", "http://a.io", "https://a.io/v2")],
        *[(RemoteUrl, url) for url in ("https://A.io", "https://a.io:", "ftp://a.io")],
    ],
)
def test_the_schemas_patterns_are_the_programs_rules(annotation: Any, value: str) -> None:
    assert (re.search(pattern_of(annotation), value) is not None) == accepts(annotation, value)
