"""scripts/bench.py --quick runs end to end (replica, Chromium, ffmpeg, both Whisper engines) and writes its
table. Benchmarks are not timed tests: nothing here looks at how fast anything was."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {"resolve", "download", "merge", "transcribe", "batch", "search"}


@pytest.mark.timeout(600)
def test_quick_benchmark_writes_every_section(tmp_path):
    out = tmp_path / "bench-out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads((out / "bench.json").read_text())
    assert document["mode"] == "quick"
    assert set(document["sections"]) == SECTIONS
    for name, rows in document["sections"].items():
        assert rows, name
        for row in rows:
            assert all(isinstance(row[k], (int, float)) and not math.isnan(row[k]) for k in ("ours", "theirs", "ratio"))
            assert row["met"] in (True, False, None)
    table = (out / "bench.md").read_text()
    assert table.startswith("| section |")
    assert all(f"| {name} |" in table for name in SECTIONS)
    assert "| section |" in done.stdout  # the one table, printed
