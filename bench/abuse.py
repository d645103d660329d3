"""Without credentials: what anyone who reaches the pod can make it spend, now and in the designs before.

Memory: resident memory after oversized wrong credentials, credentials too
long for any password, and a thousand distinct wrong passwords (a cache of
failed checks fills up). CPU: the server's seconds per request for an unknown
user name and a known user's wrong password (a new one each time, so no cache
helps). Beside the pod run the previous release's front (Caddy's basic
authentication as Caddy leaves it) and, before any front, the registry checking
htpasswd itself (bench/small_requests.py), on the same key pair and accounts.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.small_requests import BEFORE_PORT, secured_pod, start_before
from bench.stats import Figure
from components.workload.front_config import TLS_DIR, UPSTREAM
from harness.abuse import Target, authorization_header
from harness.accounts import front_accounts
from harness.e2e import Registry
from harness.process_usage import resident_bytes

MIB = 2**20
HUGE, LONG, WRONG = 700_000, 12_000, 72
PREVIOUS_PORT = 5006
NOW = "the front, as the stack ships it"
PREVIOUS = "the previous release's front (Caddy's basic auth as it comes)"
BEFORE = "before the front: the registry's own htpasswd"


@dataclass(frozen=True)
class Volume:
    """How many requests of each kind."""

    oversized: int
    wrong: int
    guesses: int


@dataclass
class Abuse:
    """One server's figures over every run."""

    label: str
    memory: dict[str, Figure] = field(default_factory=dict)
    cpu: dict[str, Figure] = field(default_factory=dict)


def _add(figures: dict[str, Figure], key: str, unit: str, value: float) -> None:
    figures.setdefault(key, Figure(unit)).add(value)


def _memory(registry: Registry, pids: list[int], target: Target, volume: Volume, into: Abuse) -> None:
    def resident() -> float:
        return sum(resident_bytes(pid) for pid in pids) / MIB

    user = registry.username
    assert set(target.statuses(20, authorization_header(registry.workspace, user, registry.password))) == {"200"}
    idle = resident()
    _add(into.memory, "idle", "MiB", idle)
    rounds = [
        (f"{volume.oversized} × {HUGE // 1000} kB wrong credentials", HUGE, volume.oversized),
        (f"then {volume.oversized} × {LONG // 1000} kB wrong credentials", LONG, volume.oversized),
        (f"then {volume.wrong} distinct {WRONG}-byte wrong passwords", WRONG, volume.wrong),
    ]
    for label, size, count in rounds:
        assert "200" not in target.wrong_credentials(user, size, count)
        _add(into.memory, label, "MiB", resident() - idle)


def _cpu(target: Target, pid: int, volume: Volume, into: Abuse) -> None:
    guesses = {
        "unknown user name": "nobody-at-all",
        # The supplied password's user of bench/small_requests.py's pod.
        "known user, wrong password (supplied, cost 10)": "person",
        "known user, wrong password (generated, cost 4)": "registry",
    }
    for label, user in guesses.items():
        _add(into.cpu, label, "ms", 1000 * target.cpu_per_guess(pid, user, volume.guesses))


def start_previous_front(registry: Registry) -> subprocess.Popen[bytes]:
    """The previous release's front beside the pod's, on PREVIOUS_PORT: Caddy's basic authentication with its
    cache, as Caddy leaves it (no claimed-user check, Go's 1 MiB header limit), the same accounts and key pair."""
    proxy = {"handler": "reverse_proxy", "upstreams": [{"dial": UPSTREAM}]}
    accounts = [{"username": user, "password": hashed} for user, hashed in front_accounts(registry.run).items()]
    basic = {"hash": {"algorithm": "bcrypt"}, "hash_cache": {}, "realm": "image-registry", "accounts": accounts}
    server = {
        "listen": [f":{PREVIOUS_PORT}"],
        "automatic_https": {"disable": True},
        "tls_connection_policies": [{"certificate_selection": {"any_tag": ["registry"]}}],
        "routes": [
            {"match": [{"path": ["/"]}], "handle": [proxy], "terminal": True},
            {"handle": [{"handler": "authentication", "providers": {"http_basic": basic}}, proxy]},
        ],
    }
    tls = {"certificate": f"{TLS_DIR}/tls.crt", "key": f"{TLS_DIR}/tls.key", "tags": ["registry"]}
    config = {
        "admin": {"disabled": True},
        "apps": {"http": {"servers": {"previous": server}}, "tls": {"certificates": {"load_files": [tls]}}},
    }
    path = registry.workspace / "previous-front.json"
    path.write_text(json.dumps(config))
    argv = ["caddy", "run", "--config", registry.sandbox.inside(path)]
    ready = f"https://127.0.0.1:{PREVIOUS_PORT}/"
    return registry.sandbox.start_beside("previous-front", "front", {}, ready, argv)


def measure(workspace: Path, volume: Volume, runs: int) -> list[Abuse]:
    """A fresh pod per run (memory only grows within one), the previous designs beside it."""
    results = [Abuse(NOW), Abuse(PREVIOUS), Abuse(BEFORE)]
    for run in range(runs):
        with secured_pod(workspace / f"run-{run}", 10) as registry:
            host = registry.run.outputs["registryHost"]
            front = registry.sandbox.processes["front"].pid
            servers = [
                (registry.layout.port, [process.pid for process in registry.sandbox.processes.values()], front),
                (PREVIOUS_PORT, [(previous := start_previous_front(registry).pid)], previous),
                (BEFORE_PORT, [(alone := start_before(registry).pid)], alone),
            ]
            for into, (port, pids, worker) in zip(results, servers, strict=True):
                target = Target(registry.client, registry.ca_file, f"https://{host}:{port}/v2/")
                _memory(registry, pids, target, volume, into)
                _cpu(target, worker, volume, into)
    return results


def abuse_table(results: list[Abuse]) -> list[str]:
    now = results[0]
    grown = max(figure.median for key, figure in now.memory.items() if key != "idle")
    unknown, known = (now.cpu[key].median for key in list(now.cpu)[:2])
    header = " | ".join(item.label for item in results)
    return [
        "Resident memory (MiB): idle, then grown by each round, one after the other. For the front, the pod's "
        "(front and registry); for the previous designs, their own process's.",
        "",
        f"| requests | {header} |",
        f"| --- |{' ---: |' * len(results)}",
        *(f"| {key} | {' | '.join(item.memory[key].text() for item in results)} |" for key in now.memory),
        "",
        "CPU per request without valid credentials (ms of the server's CPU), each guess a new password (no cache "
        "helps):",
        "",
        f"| request | {header} |",
        f"| --- |{' ---: |' * len(results)}",
        *(f"| {key} | {' | '.join(item.cpu[key].text(1) for item in results)} |" for key in now.cpu),
        "",
        f"Goal: no failure grows the pod by more than 32 MiB: {grown:.1f} MiB, {_mark(grown <= 32)}.",
        f"Goal: an unknown user costs no more than a wrong password at cost 10: {unknown:.1f} ms against "
        f"{known:.1f} ms, {_mark(unknown <= known)}.",
    ]


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"
