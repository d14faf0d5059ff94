"""Each talk's share of the cores: the table for --jobs, the affinity a container or Slurm sets, and the batch
handing its share to every stage."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from slidegrab.cores import CpuShare, cores
from slidegrab.net import NetConfig
from slidegrab.pipeline import Batch, FetchOptions
from slidegrab.progress import choose_display


@pytest.mark.parametrize(
    ("jobs", "available", "threads", "lanes"),
    [
        (1, 2, 2, 1),  # one talk has the machine
        (2, 2, 1, 2),
        (4, 2, 1, 2),  # more talks than cores: one thread each, two computing at once
        (3, 8, 2, 3),
        (4, 16, 4, 4),
        (1, 1, 1, 1),
        (32, 4, 1, 4),
    ],
)
def test_each_talk_gets_an_equal_share_and_together_no_more_than_the_cores(jobs, available, threads, lanes):
    share = CpuShare.for_jobs(jobs, available)
    assert (share.threads, share.lanes) == (threads, lanes)
    assert share.threads * share.lanes <= available


def test_cores_are_the_ones_this_process_may_run_on():
    """A container's or Slurm's CPU limit shows as the affinity mask, not as the machine's count."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    first = min(os.sched_getaffinity(0))
    code = f"import os; os.sched_setaffinity(0, {{{first}}}); from slidegrab.cores import cores; print(cores())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1"
    assert cores() == len(os.sched_getaffinity(0))


def test_the_batch_shares_the_cores_by_jobs(tmp_path):
    batch = Batch(FetchOptions(tmp_path, NetConfig(), jobs=4), choose_display(True))
    assert batch.cpu == CpuShare.for_jobs(4)
