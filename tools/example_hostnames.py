"""`make up`'s notice when a stack still serves the hostnames this repository ships as examples.

A notice, not a question: `pulumi up` shows the Ingress hosts in its preview and asks before it
changes anything, and unattended runs (`--yes`, CI) must go on. It never stops `make up`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence

# Pulumi.dev.yaml's lab names: the manual install's, under names no one serves (.internal, example.com).
LAB_HOSTNAMES = frozenset({"image-registry.8-mega.internal", "image-registry.8-mega.example.com"})
# Reserved for examples (RFC 2606): never anyone's registry (examples/stacks/prod.yaml uses them).
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")


def example_hostnames(hostnames: Iterable[str]) -> list[str]:
    return [
        name
        for name in hostnames
        if name in LAB_HOSTNAMES or any(name == domain or name.endswith(f".{domain}") for domain in EXAMPLE_DOMAINS)
    ]


def notice(stack: str, examples: Sequence[str]) -> list[str]:
    if not examples:
        return []
    return [
        f"make: the {stack} stack serves this repository's example hostnames ({', '.join(examples)});"
        " pulumi up shows them and asks before it changes anything",
        f"make: to serve yours: pulumi config set --stack {stack} --path 'hostnames[0]' registry.example.com"
        " (with your name, and so on for each index), or use a stack of your own (pulumi stack init NAME)",
    ]


def configured_hostnames(stack: str) -> list[str]:
    """The stack's `hostnames`, as `pulumi config get --json` gives them (none when it has none yet)."""
    result = subprocess.run(
        ["pulumi", "config", "get", "hostnames", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        names = json.loads(result.stdout).get("objectValue") if result.returncode == 0 else []
    except (ValueError, AttributeError):
        return []
    return [str(name) for name in names] if isinstance(names, list) else []


def main(argv: Sequence[str] | None = None) -> int:
    (stack,) = sys.argv[1:] if argv is None else argv
    for line in notice(stack, example_hostnames(configured_hostnames(stack))):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
