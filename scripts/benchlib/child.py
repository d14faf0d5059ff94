"""Run one command (a JSON argument list) and print its wall time, CPU time and peak RSS as JSON.

A fresh process per measurement, so RUSAGE_CHILDREN holds that command (and what it waited for) alone.
ru_maxrss is the largest single process, not a sum over processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchlib.common import rusage_children

if __name__ == "__main__":
    argv = json.loads(sys.argv[1])
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"exit {done.returncode}: {done.stderr.strip()[-800:]}")
    cpu, rss = rusage_children()
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mib": rss}))
