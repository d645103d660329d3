"""The front's reload loop, its rendered script run by busybox (as in the Caddy image), with a `caddy` that hangs.

The script's paths (the config's mount, the front's /tmp) are directories of
the test, bound in a mount namespace of their own; `caddy` is a stand-in whose
first `reload` never answers, as an admin socket that has stopped answering:
a later config must still be offered to the front.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components.workload.front import CONFIG_DIR, CONFIG_KEY, RELOAD_INTERVAL_SECONDS, RELOAD_TIMEOUT_SECONDS
from components.workload.front_config import TMP_DIR
from harness.doubles import ProgramRun
from tests.rendered import container

SHORT_TIMEOUT_SECONDS = 3
# Where the stand-in and busybox's applets are, alone on the PATH.
IMAGE_BIN = "/etc/image-bin"
APPLETS = ("sh", "cp", "cmp", "rm", "sleep", "timeout", "cat")
# Runs the front's `caddy run` (sleeps, as a server would) and records every `caddy reload`; the first never ends.
STAND_IN = f"""#!/bin/busybox sh
case "$1" in
  run) exec sleep 600 ;;
  reload)
    cat "$3" >> {TMP_DIR}/reloaded
    if [ ! -e {TMP_DIR}/hung ]; then : > {TMP_DIR}/hung; exec sleep 600; fi ;;
esac
"""


def write_config(directory: Path, text: str) -> None:
    """As the kubelet updates a Secret volume: the new file renamed into place."""
    (directory / "next").write_text(text)
    (directory / "next").rename(directory / CONFIG_KEY)


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def reload_loop(dev_run: ProgramRun, tmp_path: Path) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    """The front's command (its timeout shortened), running; its config directory and its /tmp."""
    (script,) = container(dev_run, "front")["command"][2:]
    # (A script without the timeout runs as it is, and fails the test.)
    script = script.replace(f"timeout {RELOAD_TIMEOUT_SECONDS} caddy", f"timeout {SHORT_TIMEOUT_SECONDS} caddy")
    config, scratch, image_bin = tmp_path / "config", tmp_path / "tmp", tmp_path / "bin"
    for directory in (config, scratch, image_bin):
        directory.mkdir()
    for applet in APPLETS:
        (image_bin / applet).symlink_to("/bin/busybox")
    (image_bin / "caddy").write_text(STAND_IN)
    (image_bin / "caddy").chmod(0o755)
    write_config(config, '{"version": 1}')
    # /etc a tmpfs of the namespace: mount points made there leave the host's untouched. The test's
    # directories are bound before /tmp, where they are, is covered by the front's own.
    setup = (
        f"mount -t tmpfs none /etc && mkdir -p {CONFIG_DIR} {IMAGE_BIN} && mount --bind {config} {CONFIG_DIR}"
        f" && mount --bind {image_bin} {IMAGE_BIN} && mount --bind {scratch} {TMP_DIR}"
        f' && exec env -i PATH={IMAGE_BIN} /bin/busybox sh -c "$0"'
    )
    loop = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", setup, script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield config, scratch, loop
    finally:
        # Its process group: the shell, the loop, the stand-in's sleeps.
        os.killpg(loop.pid, signal.SIGKILL)
        loop.wait(timeout=15)


def test_a_reload_that_never_answers_does_not_block_the_next(
    reload_loop: tuple[Path, Path, subprocess.Popen[str]],
) -> None:
    config, scratch, loop = reload_loop
    # The front started on the first version.
    wait_until((scratch / "caddy-tried.json").exists, 10, "the script never started")
    write_config(config, '{"version": 2}')
    wait_until((scratch / "hung").exists, 3 * RELOAD_INTERVAL_SECONDS, "the new config was never offered")
    # The hung reload is given up after its timeout, and the same file offered again (it may not be applied).
    reloaded = scratch / "reloaded"
    wait_until(
        lambda: reloaded.read_text().count('{"version": 2}') == 2,
        SHORT_TIMEOUT_SECONDS + 3 * RELOAD_INTERVAL_SECONDS,
        "a reload that never answered blocked the next one",
    )
    write_config(config, '{"version": 3}')
    wait_until(lambda: '{"version": 3}' in reloaded.read_text(), 3 * RELOAD_INTERVAL_SECONDS, "v3 never offered")
    assert loop.poll() is None, "the front runs on"
