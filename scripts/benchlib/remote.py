"""The replica in a process of its own, as a real site is: its TLS and its Python threads then do not share
the measured client's interpreter lock (which made the in-process figure a measure of the replica)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchlib.common import child_env
from slidegrab.net import NetConfig


@contextmanager
def replica_process(cache_dir: Path, faults: tuple[str, ...] = ()) -> Iterator[NetConfig]:
    """Start ``python -m slidegrab.replica`` (with ``--fault`` specs); yield the NetConfig that reaches it."""
    argv = [sys.executable, "-m", "slidegrab.replica", "--cache-dir", str(cache_dir)]
    argv += [arg for spec in faults for arg in ("--fault", spec)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        yield _announced(process)
    finally:
        process.terminate()
        process.wait(timeout=30)


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
