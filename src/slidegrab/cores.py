"""The cores this process may use, and how a batch shares them between the talks in flight.

With ``--jobs N`` on C cores, each talk's own computation (Whisper's threads, a talk's Tesseract batches) gets
C // N of them, and up to min(N, C) talks compute at once: together they never ask for more threads than there
are cores. On two cores, Whisper with two threads took 29.6 CPU-s over the 20 bench talks where one thread took
25.3, for 3.4 s less wall time: worth it for a talk alone, wasted when other talks could use that core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def cores() -> int:
    """Cores this process may run on (its CPU affinity: a container's or Slurm's limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS)
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CpuShare:
    threads: int  # threads one talk's computation may use
    lanes: int  # talks that may compute at once

    @classmethod
    def for_jobs(cls, jobs: int, available: int | None = None) -> CpuShare:
        """Each of ``jobs`` talks in flight gets an equal share of ``available`` cores (default: ``cores()``)."""
        available = available or cores()
        jobs = max(1, jobs)
        return cls(threads=max(1, available // jobs), lanes=min(jobs, available))
