#!/usr/bin/env python3
"""Benchmarks: slidegrab side by side with the seed workflow and its peers, on the same inputs (issue 6).

Starts the offline replica and measures six comparisons — resolve, slides download, merge, transcription,
batch, search — each as "ours vs theirs" with the ratio the issue targets. Prints one table and writes
``bench.json`` and ``bench.md`` to ``--out``. A ratio below its target is a finding, not a failure: the script
exits 0 whenever every measurement ran. ``--quick`` uses tiny inputs and one run (CI proof that it works).
Resolve and batch run over 20 distinct replica talks (3 quick): the catalogue's plain talks, topped up with
generated ones (``fixtures.generated``) that the replica serves besides its catalogue.

    PYTHONPATH=src python3 scripts/bench.py [--quick] [--runs 5] [--out benchmarks-out] [--only merge,search]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's slidegrab

from benchlib import batch, media, resolve, speech  # noqa: E402
from benchlib.common import Row, Settings  # noqa: E402
from benchlib.talkfiles import script  # noqa: E402
from benchlib.talkfiles import speech as make_speech  # noqa: E402

from slidegrab.net import NetConfig  # noqa: E402
from slidegrab.replica import Replica  # noqa: E402
from slidegrab.replica.fixtures import CATALOGUE, generated  # noqa: E402

SECTIONS = ("resolve", "download", "merge", "transcribe", "batch", "search")


def measure(settings: Settings, only: set[str]) -> dict[str, list[Row]]:
    results: dict[str, list[Row]] = {}
    minutes = 1 / 3 if settings.quick else 5
    sentences = script(minutes)
    audio = settings.work / "speech.m4a"
    seconds = make_speech(sentences, audio)
    with Replica(catalogue=CATALOGUE + generated(settings.talks)) as replica:  # enough talks for any top-up
        net = NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path)
        talks = resolve.bench_talks(net, settings.talks) if only & {"resolve", "batch"} else []
        jobs = {
            "resolve": lambda: resolve.run(net, talks, settings),
            "download": lambda: media.download(replica, net, settings),
            "merge": lambda: media.merge(audio, seconds, settings),
            "transcribe": lambda: speech.run(audio, " ".join(sentences), settings),
            "batch": lambda: batch.batch(talks, replica.cache_dir, settings),
            "search": lambda: batch.search(settings),
        }
        for name in SECTIONS:
            if name in only:
                started = time.perf_counter()
                results[name] = jobs[name]()
                print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if replica.escapes:
            print(f"warning: requests left the replica: {replica.escapes}", file=sys.stderr)
    return results


def markdown(results: dict[str, list[Row]]) -> str:
    lines = ["| section | comparison | ours | theirs | unit | ratio (×, >1 = ours better) | target | met? | note |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for rows in results.values():
        for r in rows:
            met = ("**finding**" if r.ratio < 1 else "—") if r.met is None else ("yes" if r.met else "**finding**")
            target = "—" if r.target is None else f"≥ {r.target:g}"
            lines.append(f"| {r.section} | {r.metric} | {r.ours:.4g} | {r.theirs:.4g} | {r.unit} | {r.ratio:.2f} "
                         f"| {target} | {met} | {r.note} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def write(out: Path, results: dict[str, list[Row]], settings: Settings) -> None:
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "mode": "quick" if settings.quick else "full",
        "runs": settings.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "sections": {name: [r.to_dict() for r in rows] for name, rows in results.items()},
    }
    for name, text in (("bench.json", json.dumps(document, indent=2) + "\n"), ("bench.md", markdown(results))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs and one run (proves it works)")
    parser.add_argument("--runs", type=int, help="measured runs per figure after a warm-up (default 5; 1 quick)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks-out"), help="where bench.json/bench.md go")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if unknown := only - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="slidegrab-bench-") as work:
        settings = Settings(args.quick, args.runs or (1 if args.quick else 5), Path(work))
        results = measure(settings, only)
    write(args.out, results, settings)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
