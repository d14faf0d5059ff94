"""Timing, child-process measurement and the result table shared by the benchmark sections."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


@dataclass(frozen=True)
class Settings:
    quick: bool
    runs: int  # measured runs per figure (after one warm-up)
    work: Path  # scratch folder for inputs and outputs

    @property
    def talks(self) -> int:
        """How many distinct replica talks the resolve and batch sections use (the issue asks for 20)."""
        return 3 if self.quick else 20


@dataclass
class Row:
    section: str
    metric: str
    ours: float
    theirs: float
    unit: str
    ratio: float  # how many times better ours is (>1: ours wins)
    target: float | None = None  # the ratio the issue asks for; None: reported only
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def speedup(section: str, metric: str, ours: float, theirs: float, unit: str = "s", **kw: Any) -> Row:
    """A row for a time or size (lower is better): ratio = theirs / ours."""
    return Row(section, metric, ours, theirs, unit, theirs / ours if ours else float("inf"), **kw)


def rate(section: str, metric: str, ours: float, theirs: float, unit: str, **kw: Any) -> Row:
    """A row for a rate (higher is better): ratio = ours / theirs."""
    return Row(section, metric, ours, theirs, unit, ours / theirs if theirs else float("inf"), **kw)


def median_time(job: Callable[[], object], runs: int, warmup: bool = True) -> float:
    """Median wall seconds of ``runs`` calls of ``job``, after one unmeasured warm-up call."""
    if warmup:
        job()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def child_env() -> dict[str, str]:
    """The environment for child processes: slidegrab importable from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), str(ROOT / "scripts"), env.get("PYTHONPATH")]))
    return env


def measured(argv: list[str], **kw: Any) -> dict[str, float]:
    """Run ``argv`` inside a fresh wrapper process: wall s, CPU s and peak RSS (MiB) of its descendants."""
    wrapper = [sys.executable, "-m", "benchlib.child", json.dumps(argv)]
    done = subprocess.run(wrapper, env=child_env(), capture_output=True, text=True, check=False, **kw)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]}… failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rusage_children() -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
