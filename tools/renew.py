"""`make renew`: renew a stack's due certificates, and roll what uses them, with the policy pack; nothing else.

1. `pulumi preview --refresh --json`: the whole stack, as the cluster is. No certificate due: done.
2. A preview targeted at the due certificates with their dependents: what the renewal would change.
3. Anything the first changes that is not such a renewal (tools/renewal.py): refused, listed, exit 3.
4. Else `pulumi up` with the same targets and the policy pack.

Exit status: 0 when nothing was due or the renewal was applied, 3 when refused, else Pulumi's.
It prints resource URNs and property names, never a value.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from tools import renewal

# Apart from Pulumi's own failures (make turns any into 2).
REFUSED = 3


class PulumiError(Exception):
    def __init__(self, command: str, returncode: int) -> None:
        super().__init__(f"`pulumi {command}` failed (exit {returncode})")
        self.returncode = returncode


def target_flags(urns: Sequence[str]) -> list[str]:
    return [*(flag for urn in urns for flag in ("--target", urn)), "--target-dependents"] if urns else []


def preview(stack: str, targets: Sequence[str] = ()) -> dict[str, Any]:
    """A refreshed preview of the whole stack, or a preview of the targets and their dependents, as JSON.

    Only the whole stack is refreshed: the engine fails a targeted refresh ("unknown provider" for the dependents,
    whose provider it did not load), and the whole stack's refreshed preview already refuses any drift."""
    refresh = [] if targets else ["--refresh"]
    command = ["pulumi", "preview", "--stack", stack, *refresh, "--json", "--non-interactive", *target_flags(targets)]
    # stderr is the user's: Pulumi says there what went wrong.
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        _print_errors(result.stdout)
        raise PulumiError("preview", result.returncode)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _print_errors(output: str) -> None:
    """The preview's error diagnostics, which `--json` puts in the document rather than on stderr."""
    try:
        diagnostics = json.loads(output).get("diagnostics") or ()
    except (ValueError, AttributeError):
        return
    for diagnostic in diagnostics:
        if diagnostic.get("severity") == "error":
            print(str(diagnostic.get("message", "")).rstrip(), file=sys.stderr)


def apply(stack: str, certificates: Sequence[str], policy_pack: str) -> None:
    command = ["pulumi", "up", "--stack", stack, "--yes", "--non-interactive", "--diff"]
    result = subprocess.run([*command, "--policy-pack", policy_pack, *target_flags(certificates)], check=False)
    if result.returncode != 0:
        raise PulumiError("up", result.returncode)


def renew(stack: str, policy_pack: str) -> int:
    full = preview(stack)
    due = renewal.due_certificates(full)
    if not due:
        print(f"renew {stack}: no certificate is due for renewal.")
        pending = len(renewal.changes(full))
        if pending:
            print(
                f"renew {stack}: other changes are pending ({pending}): renewal leaves them to make preview, make up."
            )
        return 0
    for urn in due:
        print(f"renew {stack}: due for renewal: {urn}")
    refused = renewal.refusals(full, preview(stack, due))
    if refused:
        print(f"renew {stack}: refused: the stack has changes that are not this renewal.", file=sys.stderr)
        print(f"  Review them (make preview STACK={stack}), then apply them (make up STACK={stack}):", file=sys.stderr)
        for line in refused:
            print(f"  {line}", file=sys.stderr)
        return REFUSED
    apply(stack, due, policy_pack)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.renew", description="Renew a stack's due certificates.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--policy-pack", default="policy", help="the policy pack's directory (default: policy)")
    arguments = parser.parse_args(argv)
    try:
        return renew(arguments.stack, arguments.policy_pack)
    except PulumiError as failure:
        print(f"renew {arguments.stack}: {failure}", file=sys.stderr)
        return failure.returncode


if __name__ == "__main__":
    sys.exit(main())
