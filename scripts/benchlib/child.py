"""Run one command (a JSON argument list) and print its wall time, CPU time and peak memory as JSON.

A fresh process per measurement, so RUSAGE_CHILDREN holds that command (and what it waited for) alone.
``rss_mib`` (ru_maxrss) is the largest single process; ``tree_mib`` the peak of the whole tree's PSS."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

from benchlib.common import rusage_children
from benchlib.proctree import PeakSampler

if __name__ == "__main__":
    argv = json.loads(sys.argv[1])
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors)
        sampler = PeakSampler(process.pid)
        sampler.start()
        process.wait()
        wall, tree = time.perf_counter() - started, sampler.stop()
        if process.returncode != 0:
            errors.seek(0)
            sys.exit(f"exit {process.returncode}: {errors.read().decode(errors='replace').strip()[-800:]}")
    cpu, rss = rusage_children()
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mib": rss, "tree_mib": tree}))
