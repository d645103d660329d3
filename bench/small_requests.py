"""Small requests: authenticated manifest HEADs, the plain registry and the secured pod side by side.

Each pod is the dev stack's, rendered with a generated and a supplied password
at one `bcryptCost`, run in its sandbox (harness/pod_sandbox.py). The plain
registry is the pod's own registry container, reached on the pod's loopback
(HTTP, no authentication); the secured one is the same process behind the
front (TLS, checked credentials). "Before" is the same binary serving TLS and
htpasswd itself, as the previous release's pod did, started beside them.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import Figure
from components.workload.front_config import UPSTREAM
from harness.accounts import front_accounts, htpasswd_file
from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import REPOSITORY, Registry, running_registry
from harness.images import OCI_MANIFEST, build_busybox_image
from harness.pod_sandbox import Sandbox

SUPPLIED_PASSWORD = "a-Passw0rd-someone-chose"
BEFORE_PORT = 5004
MANIFEST = f"/v2/{REPOSITORY}/manifests/latest"


@dataclass(frozen=True)
class Load:
    requests: int
    concurrency: int

    def __post_init__(self) -> None:
        # ab's percentile file reads past its samples for the 99th below 100 requests.
        assert self.requests >= 100, "ab's 99th percentile needs 100 requests or more"


@dataclass
class Case:
    """One way of asking: its figures over every run."""

    label: str
    requests: int
    rate: Figure = field(default_factory=lambda: Figure("requests/s"))
    p50: Figure = field(default_factory=lambda: Figure("ms"))
    p99: Figure = field(default_factory=lambda: Figure("ms"))


def head_load(sandbox: Sandbox, url: str, load: Load, credentials: str | None, case: Case) -> None:
    """`ab`: `load.requests` HEADs, `load.concurrency` at a time on kept-alive connections, into `case`."""
    percentiles = sandbox.workspace / f"ab-{secrets.token_hex(4)}.csv"
    argv = [
        "ab",
        "-q",
        "-i",
        "-k",
        "-c",
        str(load.concurrency),
        "-n",
        str(load.requests),
        "-H",
        f"Accept: {OCI_MANIFEST}",
        "-e",
        sandbox.inside(percentiles),
    ]
    if credentials is not None:
        argv += ["-A", credentials]
    result = sandbox.run(*argv, url)
    assert result.returncode == 0, result.stderr
    # Every answer must be the manifest's 200: a refused or failed request is not a fast one.
    assert "Non-2xx responses" not in result.stdout, result.stdout
    assert re.search(r"^Failed requests:\s+0$", result.stdout, re.M), result.stdout
    rate = re.search(r"^Requests per second:\s+([\d.]+)", result.stdout, re.M)
    assert rate is not None, result.stdout
    with percentiles.open() as rows:
        served_within = {int(float(row[0])): float(row[1]) for row in csv.reader(rows) if row[0][0].isdigit()}
    percentiles.unlink()
    case.rate.add(float(rate.group(1)))
    case.p50.add(served_within[50])
    case.p99.add(served_within[99])


@contextmanager
def secured_pod(workspace: Path, cost: int) -> Iterator[Registry]:
    """The dev stack's pod with a generated password (users[0]) and a supplied one at `cost`, an image pushed."""
    users = [{"name": "registry"}, {"name": "person", "password": SUPPLIED_PASSWORD}]
    config = {**dev_config(), "image-registry:users": json.dumps(users), "image-registry:bcryptCost": str(cost)}
    mocks = FaithfulMocks()
    run = run_program(config, mocks, secret_keys=["image-registry:users"])
    workspace.mkdir(parents=True)
    with running_registry(run, mocks, workspace) as registry:
        build_busybox_image(workspace / "busybox")
        code, error = registry.push(workspace / "busybox", run.outputs["registryHost"])
        assert code == 0, error
        yield registry


def start_before(registry: Registry) -> subprocess.Popen[bytes]:
    """The registry binary serving TLS and htpasswd itself (the previous design), beside the pod's, on BEFORE_PORT."""
    sandbox = registry.sandbox
    htpasswd = registry.workspace / "before-htpasswd"
    htpasswd.write_text(htpasswd_file(front_accounts(registry.run)))
    tls = Path(sandbox.layout.container("front").mount("/etc/caddy/tls").source)
    return sandbox.start_beside(
        "before",
        "registry",
        {
            "REGISTRY_HTTP_ADDR": f"127.0.0.1:{BEFORE_PORT}",
            "REGISTRY_HTTP_TLS_CERTIFICATE": sandbox.inside(tls / "tls.crt"),
            "REGISTRY_HTTP_TLS_KEY": sandbox.inside(tls / "tls.key"),
            "REGISTRY_AUTH": "htpasswd",
            "REGISTRY_AUTH_HTPASSWD_REALM": "image-registry",
            "REGISTRY_AUTH_HTPASSWD_PATH": sandbox.inside(htpasswd),
        },
        f"https://127.0.0.1:{BEFORE_PORT}/",
    )


@dataclass(frozen=True)
class Round:
    url: str
    credentials: str | None
    case: Case
    load: Load


def measure(workspace: Path, costs: tuple[int, ...], load: Load, before: Load, runs: int) -> list[Case]:
    """Every case, pod after pod (one per cost); within a pod its cases alternate, run after run.

    The previous design ("before") is measured in the pod of cost 10 (its default), or of the last cost.
    """
    plain = Case("plain registry: HTTP, no authentication", load.requests)
    generated = Case("secured, generated password (cost 4)", load.requests)
    cases, before_cases = [plain, generated], []
    before_cost = 10 if 10 in costs else costs[-1]
    for cost in costs:
        supplied = Case(f"secured, supplied password, bcryptCost {cost}", load.requests)
        cases.append(supplied)
        with secured_pod(workspace / f"cost-{cost}", cost) as registry:
            secured = f"https://{registry.run.outputs['registryHost']}:{registry.layout.port}{MANIFEST}"
            person = f"person:{SUPPLIED_PASSWORD}"
            rounds = [
                Round(f"http://{UPSTREAM}{MANIFEST}", None, plain, load),
                Round(secured, registry.credentials(), generated, load),
                Round(secured, person, supplied, load),
            ]
            if cost == before_cost:
                start_before(registry)
                url = f"https://{registry.run.outputs['registryHost']}:{BEFORE_PORT}{MANIFEST}"
                before_generated = Case("before: the registry's own htpasswd, generated (cost 4)", before.requests)
                before_supplied = Case(f"before: the registry's own htpasswd, supplied, cost {cost}", before.requests)
                rounds += [
                    Round(url, registry.credentials(), before_generated, before),
                    Round(url, person, before_supplied, before),
                ]
                before_cases += [before_generated, before_supplied]
            for _ in range(runs):
                for item in rounds:
                    head_load(registry.client, item.url, item.load, item.credentials, item.case)
    return cases + before_cases
