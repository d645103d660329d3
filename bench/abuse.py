"""Without credentials: what anyone who reaches the pod can make it spend, the front against the registry alone.

Memory: the pod's resident memory (front and registry) after oversized wrong
credentials, credentials too long for any password, and a thousand distinct
wrong passwords (the front's cache of failed checks fills up). CPU: the
server's seconds per request for an unknown user name and a known user's wrong
password (a new one each time, so no cache helps).
"Before" is the registry checking htpasswd itself (bench/small_requests.py),
beside the same pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.small_requests import BEFORE_PORT, secured_pod, start_before
from bench.stats import Figure
from tests.abuse import Target, authorization_header
from tests.e2e import Registry
from tests.process_usage import resident_bytes

MIB = 2**20
HUGE, LONG, WRONG = 700_000, 12_000, 72


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


def _memory(registry: Registry, target: Target, volume: Volume, into: Abuse) -> None:
    pids = [process.pid for process in registry.sandbox.processes.values()]

    def resident() -> float:
        return sum(resident_bytes(pid) for pid in pids) / MIB

    user = registry.username
    assert set(target.statuses(20, authorization_header(registry.workspace, user, registry.password))) == {"200"}
    idle = resident()
    _add(into.memory, "idle", "MiB", idle)
    huge = authorization_header(registry.workspace, user, "x" * HUGE)
    assert "200" not in target.statuses(volume.oversized, huge, "--http1.1")
    _add(into.memory, f"{volume.oversized} × {HUGE // 1000} kB wrong credentials", "MiB", resident() - idle)
    long = authorization_header(registry.workspace, user, "y" * LONG)
    assert "200" not in target.statuses(volume.oversized, long)
    _add(into.memory, f"then {volume.oversized} × {LONG // 1000} kB wrong credentials", "MiB", resident() - idle)
    for batch in range(volume.wrong // 50):
        wrong = authorization_header(registry.workspace, user, f"{batch}-".ljust(WRONG, "z"))
        assert set(target.statuses(50, wrong)) == {"401"}
    _add(into.memory, f"then {volume.wrong} distinct {WRONG}-byte wrong passwords", "MiB", resident() - idle)


def _cpu(target: Target, pid: int, volume: Volume, into: Abuse) -> None:
    guesses = {
        "unknown user name": "nobody-at-all",
        # The supplied password's user of bench/small_requests.py's pod.
        "known user, wrong password (supplied, cost 10)": "person",
        "known user, wrong password (generated, cost 4)": "registry",
    }
    for label, user in guesses.items():
        _add(into.cpu, label, "ms", 1000 * target.cpu_per_guess(pid, user, volume.guesses))


def measure(workspace: Path, volume: Volume, runs: int) -> list[Abuse]:
    """A fresh pod per run (memory only grows within one), with the previous design beside it."""
    front, before = Abuse("the front (Caddy), as the stack ships it"), Abuse("before: the registry's own htpasswd")
    for run in range(runs):
        with secured_pod(workspace / f"run-{run}", 10) as registry:
            host = registry.run.outputs["registryHost"]
            secured = Target(registry.client, registry.ca_file, f"https://{host}:{registry.layout.port}/v2/")
            _memory(registry, secured, volume, front)
            _cpu(secured, registry.sandbox.processes["front"].pid, volume, front)
            alone = start_before(registry)
            previous = Target(registry.client, registry.ca_file, f"https://{host}:{BEFORE_PORT}/v2/")
            _cpu(previous, alone.pid, volume, before)
    return [front, before]


def abuse_table(results: list[Abuse]) -> list[str]:
    front, before = results
    grown = max(figure.median for key, figure in front.memory.items() if key != "idle")
    unknown, known = (front.cpu[key].median for key in list(front.cpu)[:2])
    return [
        "The pod's resident memory (front and registry), idle and then grown by each round, one after the other:",
        "",
        "| requests | MiB |",
        "| --- | ---: |",
        *(f"| {key} | {figure.text()} |" for key, figure in front.memory.items()),
        "",
        "The server's CPU per request without valid credentials, each guess a new password (no cache helps):",
        "",
        f"| request | {front.label}, ms | {before.label}, ms |",
        "| --- | ---: | ---: |",
        *(f"| {key} | {front.cpu[key].text(1)} | {before.cpu[key].text(1)} |" for key in front.cpu),
        "",
        f"Goal: no failure grows the pod by more than 32 MiB: {grown:.1f} MiB, {_mark(grown <= 32)}.",
        f"Goal: an unknown user costs no more than a wrong password at cost 10: {unknown:.1f} ms against "
        f"{known:.1f} ms, {_mark(unknown <= known)}.",
    ]


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"
