"""The size of the rendered stack: Pulumi resources and Kubernetes objects, dev and production-like."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from harness.doubles import ProgramRun, dev_config, example_config, run_program


@dataclass(frozen=True)
class Scale:
    stack: str
    components: int
    resources: int
    kubernetes_objects: int
    kinds: str


def count(stack: str, run: ProgramRun) -> Scale:
    kinds = Counter(item["kind"] for item in run.manifests())
    return Scale(
        stack=stack,
        components=sum(1 for item in run.registrations if not item.custom),
        resources=sum(1 for item in run.registrations if item.custom),
        kubernetes_objects=sum(kinds.values()),
        kinds=", ".join(f"{kind} {number}" for kind, number in sorted(kinds.items())),
    )


def measure() -> list[Scale]:
    """Pulumi.dev.yaml and examples/stacks/prod.yaml (three replicas, nginx, metrics, node trust, collection, …)."""
    return [count("dev", run_program(dev_config())), count("prod", run_program(example_config("prod"), stack="prod"))]
