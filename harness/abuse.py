"""Requests from someone without the right credentials, as an attacker sends them, and what they cost the pod."""

from __future__ import annotations

import base64
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness.pod_sandbox import Sandbox
from harness.process_usage import cpu_seconds

RAW_CLIENT = Path(__file__).with_name("raw_basic_auth.py")


def authorization_header(directory: Path, user: str, password: str) -> Path:
    """A file with an `Authorization: Basic` header line for curl's `-H @file` (a header too long for argv)."""
    path = directory / f"authorization-{time.monotonic_ns()}.header"
    path.write_text(f"Authorization: Basic {base64.b64encode(f'{user}:{password}'.encode()).decode()}\n")
    return path


@dataclass(frozen=True)
class Target:
    """Where the requests go: from `client`, trusting `ca_file`, to `url`."""

    client: Sandbox
    ca_file: str
    url: str

    def statuses(self, count: int, header: Path, *options: str) -> list[str]:
        """`count` GETs with the header in `header`, from one curl: each answer's status (000: none)."""
        result = self.client.run(
            "curl", "-s", "--cacert", self.ca_file, "-H", f"@{self.client.inside(header)}", *options,
            "-w", "%{http_code}\n", *[item for _ in range(count) for item in ("--url", self.url, "-o", "/dev/null")],
        )  # fmt: skip
        return result.stdout.split()

    def wrong_credentials(self, user: str, size: int, count: int) -> list[str]:
        """`count` requests, each with `user` and a new random password of `size` bytes: each answer's status.
        (Sent by a client of our own: curl waits forever on an answer to a header of some 100 kB.)"""
        address = urllib.parse.urlsplit(self.url)
        argv = [sys.executable, str(RAW_CLIENT), address.hostname or "", str(address.port or 443), self.ca_file]
        result = self.client.run(*argv, address.path, user, str(size), str(count))
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.split()

    def cpu_per_guess(self, server_pid: int, user: str, count: int) -> float:
        """The server's CPU seconds for one wrong password of `user`, each guess new (no cache helps)."""
        before = cpu_seconds(server_pid)
        for attempt in range(count):
            header = authorization_header(self.client.workspace, user, f"guess-{attempt}-{time.monotonic_ns()}")
            assert self.statuses(1, header) == ["401"]
        return (cpu_seconds(server_pid) - before) / count
