"""The replica in a process of its own, as a real site is: its TLS and its Python threads then do not share
the measured client's interpreter lock (which made the in-process figure a measure of the replica)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchlib.common import child_env
from slidegrab.net import NetConfig


@dataclass(frozen=True)
class RemoteReplica:
    net: NetConfig  # reaches the replica
    pid: int

    def cpu_seconds(self) -> float:
        """CPU seconds the replica has used so far (user + system, its threads and waited-for children): it
        shares the machine's cores with the measured client, so a batch's note says how much it took."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": the command name may hold spaces
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


@contextmanager
def replica_server(cache_dir: Path, faults: tuple[str, ...] = (), extra_talks: int = 0) -> Iterator[RemoteReplica]:
    """Start ``python -m slidegrab.replica`` (with ``--fault`` specs and ``generated(extra_talks)`` talks)."""
    argv = [sys.executable, "-m", "slidegrab.replica", "--cache-dir", str(cache_dir)]
    argv += [arg for spec in faults for arg in ("--fault", spec)]
    argv += ["--extra-talks", str(extra_talks)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        yield RemoteReplica(_announced(process), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def replica_process(cache_dir: Path, faults: tuple[str, ...] = (), extra_talks: int = 0) -> Iterator[NetConfig]:
    """``replica_server`` for callers that only need to reach it: yields its NetConfig."""
    with replica_server(cache_dir, faults, extra_talks) as remote:
        yield remote.net


def _announced(process: subprocess.Popen) -> NetConfig:
    """The proxy URL and CA path from the replica's first lines."""
    found: dict[str, str] = {}
    for line in process.stdout or ():
        key, _, value = line.partition(":")
        if key in ("proxy", "CA"):
            found[key] = value.strip()
        if len(found) == 2:
            return NetConfig(proxy=found["proxy"], ca_bundle=Path(found["CA"]))
    raise RuntimeError(f"the replica exited ({process.wait()}) before saying where it listens")
