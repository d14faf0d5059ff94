"""Memory of a whole process tree: a batch is slidegrab plus its ffmpeg, tesseract, Chromium and yt-dlp
children, so its peak is the peak of their sum, sampled while it runs. Each process counts its proportional
set size (PSS: a page shared by k processes counts 1/k in each), so Chromium's shared pages count once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

INTERVAL_S = 0.25  # sampling walks /proc: about 1 % of a core at this rate


class PeakSampler(threading.Thread):
    """Samples the tree under ``pid`` in the background (the caller times the process itself) until stopped;
    ``stop`` returns the largest PSS sum (MiB) seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, tree_pss_mib(self.pid))
            self._done.wait(INTERVAL_S)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def tree_pss_mib(root: int) -> float:
    """PSS of ``root`` and every process below it, now, in MiB."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (parent := _parent(entry.name)) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss_kib(pid)
        stack += children.get(pid, [])
    return total / 1024


def _parent(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone since the listing
        return None
    return int(stat.rpartition(")")[2].split()[1])  # after "pid (comm)": state, then ppid


def _pss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("Pss:")), 0)
