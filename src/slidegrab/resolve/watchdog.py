"""A guard that ends the browser when slidegrab ends, however it ends (a SIGKILL included).

chromedriver and the Chromium it starts run in a process group of their own (a Ctrl-C meant for slidegrab
does not reach them, and one ``killpg`` ends them all). A slidegrab that is SIGKILLed cannot end that group
itself: this small process does. It runs this file with the standard library only (``python -I -S``, so it
starts in milliseconds), in a session of its own (a kill of slidegrab's process group spares it), and reads
a pipe whose write end only slidegrab holds: one line per process group to guard, or ``release``. When
slidegrab ends, however it ends, the kernel closes the write end; the guard reads EOF, SIGKILLs the groups,
removes the browser's profile folder and exits. A slidegrab that ended the browser itself writes
``release`` first, and the guard exits without touching anything.

The /proc helpers live here (rather than in chromium.py) so that the guard needs no other module.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

RELEASE = b"release"


class Watchdog:
    """The guard, seen from slidegrab: started before the browser, told its group, released at the end."""

    def __init__(self, profile: Path):
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, str(profile)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def watch(self, group: int) -> None:
        """Guard the process group ``group`` (a leader's pid) from now on."""
        self._send(b"%d\n" % group)

    def release(self) -> None:
        """The browser was ended here: the guard exits without killing anything."""
        self._send(RELEASE + b"\n")
        with suppress(OSError):
            self._process.stdin.close()
        with suppress(subprocess.TimeoutExpired):
            self._process.wait(5)

    def _send(self, line: bytes) -> None:
        with suppress(OSError):  # a guard that is gone already (killed by someone) cannot be told
            self._process.stdin.write(line)
            self._process.stdin.flush()


def processes() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, process group) of every live (non-zombie) process, read from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split() if stat else ["Z"]
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


def group(leader: int) -> list[int]:
    """The live processes of the process group that ``leader`` started (orphans included)."""
    return [p for p, (_, pgid) in processes().items() if pgid == leader]


def kill_group(leader: int, wait: float = 5.0) -> None:
    """SIGKILL the group, then wait until /proc shows none of it (a dead process turns zombie at once)."""
    deadline = time.monotonic() + wait
    while group(leader) and time.monotonic() < deadline:
        try:
            os.killpg(leader, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


def guard(profile: str, lines: Iterable[bytes]) -> None:
    """Read the pipe until EOF; unless released, end every group named and remove the profile."""
    groups = []
    for line in lines:
        if line.strip() == RELEASE:
            return
        groups.append(int(line))
    for leader in groups:
        kill_group(leader)
    shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only EOF on the pipe ends the guard
    guard(sys.argv[1], sys.stdin.buffer)
