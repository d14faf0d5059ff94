"""Batch (the real CLI, --jobs 1 vs --jobs 4, vs the sum of stage times) and search (index vs grep)."""

from __future__ import annotations

import itertools
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib.common import Row, Settings, child_env, measured, median_time, speedup
from benchlib.remote import RemoteReplica, replica_server
from slidegrab.archive import Archive
from slidegrab.library import Library
from slidegrab.net import NetConfig
from slidegrab.pipeline import build_stages, refresh_slide_table
from slidegrab.resolve import resolve
from slidegrab.stages import StageContext, run_stage
from slidegrab.transcribe.model import TranscriptOptions


def cli_fetch(urls: list[str], out: Path, jobs: int, net: NetConfig, transcribe: bool) -> dict[str, float]:
    argv = [sys.executable, "-m", "slidegrab", "-q", "fetch", *urls, "-o", str(out), "--jobs", str(jobs),
            "--proxy", str(net.proxy), "--ca-bundle", str(net.ca_bundle)]  # fmt: skip
    return measured(argv if transcribe else [*argv, "--no-transcribe"])


def stage_sum(urls: list[str], root: Path, net: NetConfig, transcribe: bool) -> float:
    """Seconds of resolve + every stage, one talk and one stage at a time, in this process."""
    stages, archive, total = build_stages(TranscriptOptions() if transcribe else None), Archive(root), 0.0
    with net.session() as session:
        ctx = StageContext(net=net, session=session)
        for url in dict.fromkeys(urls):  # a repeated URL is found complete by the CLI: count it once
            started = time.perf_counter()
            folder = archive.create(resolve(url, net, session=session), url)
            for stage in stages:
                run_stage(stage, folder, ctx)
            refresh_slide_table(folder)
            total += time.perf_counter() - started
    return total


LATENCY = 0.02  # seconds every request waits at the replica: a near CDN (a batch mostly waits on the network)
FAR = 0.05  # a farther CDN, as the slides section also measures: how much --jobs pays as the network slows
Figures = dict[int, list[dict[str, float]]]  # --jobs → one dict per measured run (wall, cpu, rss_mib, replica_cpu)


def batch(urls: list[str], cache_dir: Path, settings: Settings) -> list[Row]:
    """The CLI over ``urls`` with --jobs 1 and 4, against a replica in its own process with some latency: end to
    end, with --no-transcribe (the network-and-ffmpeg part alone), and end to end at a farther CDN's latency."""
    with replica_server(cache_dir, (f"*:*:stall:{LATENCY}",), extra_talks=len(urls)) as remote:  # any top-up
        rows = _batch(urls, remote, settings)
    rows.insert(1, _far(urls, cache_dir, settings))
    return rows


def _far(urls: list[str], cache_dir: Path, settings: Settings) -> Row:
    """The end-to-end row again, against a replica that answers every request FAR seconds late."""
    with replica_server(cache_dir, (f"*:*:stall:{FAR}",), extra_talks=len(urls)) as remote:
        figures = _figures(urls, remote, settings, _end_to_end(settings), "far")
    metric = f"--jobs 4 vs --jobs 1, end to end, {FAR * 1000:.0f} ms per request (a farther CDN)"
    return _jobs_row(metric, figures, urls, settings, _end_to_end(settings), latency=FAR)


def _end_to_end(settings: Settings) -> bool:
    """Whether the end-to-end rows transcribe: quick runs are --no-transcribe too."""
    return not settings.quick


def _batch(urls: list[str], remote: RemoteReplica, settings: Settings) -> list[Row]:
    transcribe = _end_to_end(settings)
    full = _figures(urls, remote, settings, transcribe, "full" if transcribe else "plain")
    plain = _figures(urls, remote, settings, False, "plain") if transcribe else full
    summed = stage_sum(urls, settings.work / "batch" / "stages", remote.net, transcribe)
    four = _median(full, 4, "wall")
    tree4, tree1 = (max(f["tree_mib"] for f in full[jobs]) for jobs in (4, 1))
    largest = ", ".join(f"--jobs {j} {max(f['rss_mib'] for f in full[j]):.0f} MiB" for j in (4, 1))
    return [
        _jobs_row("--jobs 4 vs --jobs 1, end to end (the issue's target)", full, urls, settings, transcribe, 1.6),
        _jobs_row("--jobs 4 vs --jobs 1, --no-transcribe (network and ffmpeg only)", plain, urls, settings, False),
        speedup("batch", "--jobs 4 vs sum of stage times", four, summed, note=f"{len(urls)} talks, one at a time"),
        speedup(
            "batch",
            "peak memory of the whole batch, --jobs 4 vs --jobs 1",
            tree4,
            tree1,
            "MiB",
            note=f"sum of the PSS of slidegrab and all its children, sampled every 0.25 s; largest single "
            f"process: {largest}",
        ),  # fmt: skip
    ]


def _figures(urls: list[str], remote: RemoteReplica, settings: Settings, transcribe: bool, name: str) -> Figures:
    """Each measured run of the batch with --jobs 1 and 4, after a one-talk warm-up (caches, Whisper's weights),
    with the replica's CPU seconds during the run; the archives go under batch/``name``."""
    root, figures = settings.work / "batch" / name, {1: [], 4: []}
    for jobs, done in figures.items():
        cli_fetch(urls[:1], root / f"warm-{jobs}", jobs, remote.net, transcribe)
        for run in range(settings.runs):
            before = remote.cpu_seconds()
            figure = cli_fetch(urls, root / f"jobs{jobs}-{run}", jobs, remote.net, transcribe)
            done.append({**figure, "replica_cpu": remote.cpu_seconds() - before})
    return figures


def _jobs_row(metric: str, figures: Figures, urls: list[str], settings: Settings, transcribe: bool,
              target: float | None = None, latency: float = LATENCY) -> Row:  # fmt: skip
    """--jobs 4 vs --jobs 1 (median wall), with what both sides cost in CPU in the note."""
    mode = "with transcription" if transcribe else "--no-transcribe"
    cpu = ", ".join(f"--jobs {j}: client {_median(figures, j, 'cpu'):.1f} s, replica "
                    f"{_median(figures, j, 'replica_cpu'):.1f} s" for j in (1, 4))  # fmt: skip
    spread = ", ".join(f"--jobs {j} {_span(figures, j)}" for j in (1, 4))
    note = (f"{len(urls)} talks ({len(set(urls))} distinct), {mode}, {settings.runs} run(s) after a warm-up "
            f"({spread}); replica in its own process, {latency * 1000:.0f} ms per request; median CPU per run: "
            f"{cpu}")  # fmt: skip
    return speedup("batch", metric, _median(figures, 4, "wall"), _median(figures, 1, "wall"), target=target, note=note)


def _median(figures: Figures, jobs: int, key: str) -> float:
    return statistics.median(f[key] for f in figures[jobs])


def _span(figures: Figures, jobs: int) -> str:
    """The fastest and slowest run's wall time, e.g. "37.1-38.4 s"."""
    walls = [f["wall"] for f in figures[jobs]]
    return f"{min(walls):.1f}-{max(walls):.1f} s"


SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables
VOCABULARY = [SYLLABLES[n // 4900] + SYLLABLES[n // 70 % 70] + SYLLABLES[n % 70] for n in range(20000)]
WEIGHTS = list(itertools.accumulate(1 / rank for rank in range(1, len(VOCABULARY) + 1)))  # Zipf's law
RARE, COMMON = VOCABULARY[1000:5000], VOCABULARY[:20]  # query terms: a few dozen talks each / every talk


def synthetic_archive(root: Path, talks: int, words: int, seed: int = 6) -> int:
    """``talks`` talk folders, each with talk.json, transcript.json and transcript.txt of about ``words``."""
    pick, total = random.Random(seed), 0
    for n in range(talks):
        folder = root / f"talk-{n:05d}"
        folder.mkdir(parents=True)
        segments, t = [], 0.0
        while sum(len(s["text"].split()) for s in segments) < words:
            text = " ".join(pick.choices(VOCABULARY, cum_weights=WEIGHTS, k=12))
            segments.append({"start": t, "end": t + 4.0, "slide": None, "text": text})
            t += 4.0
        talk_id = str(39000000 + n)
        talk = {"id": talk_id, "title": f"Synthetic talk {n}", "url": f"https://slideslive.com/{talk_id}",
                "speakers": ["A. Speaker"], "duration": t, "slides": []}  # fmt: skip
        (folder / "talk.json").write_text(json.dumps({"talk": talk, "stages": {}}))
        (folder / "transcript.json").write_text(json.dumps({"segments": segments}))
        (folder / "transcript.txt").write_text("\n".join(s["text"] for s in segments) + "\n")
        total += sum(len(s["text"].split()) for s in segments)
    return total


def search(settings: Settings) -> list[Row]:
    talks, words = (40, 300) if settings.quick else (2000, 2500)
    root = settings.work / "search"
    total = synthetic_archive(root, talks, words)
    started = time.perf_counter()
    with Library.for_archive(root) as library:
        library.rebuild(root)
        build = time.perf_counter() - started
        rows = [
            _search_row(library, root, terms, label, settings.runs)
            for terms, label in ((RARE, "rare"), (COMMON, "common"))
        ]
    note = f"{talks} talks, {total / 1e6:.2f} M words (Zipf over 20,000 words); index built in {build:.1f} s"
    cli = [median_time(lambda q=q: _cli_search(q, root), 1) for q in RARE[:5]]
    grep = [median_time(lambda q=q: _grep(q, root), 1) for q in RARE[:5]]
    rows[0].note = f"{note}; {rows[0].note}"
    return [
        *rows,
        speedup(
            "search",
            "`slidegrab search` CLI vs grep -rn",
            statistics.median(cli),
            statistics.median(grep),
            note="rare terms; the CLI pays Python start-up on each query; 5 queries",
        ),  # fmt: skip
        Row("search", "index build time (grep needs none)", build, 0.0, "s", 0.0, note="reported only"),
    ]


def _search_row(library: Library, root: Path, terms: list[str], label: str, runs: int) -> Row:
    queries = random.Random(7).sample(terms, 20)
    ours = statistics.median(median_time(lambda q=q: library.search(q), runs) for q in queries)
    theirs = statistics.median(median_time(lambda q=q: _grep(q, root), runs) for q in queries)
    words = "Zipf ranks 1,000–5,000" if label == "rare" else "the 20 commonest words: in every talk"
    return speedup("search", f"Library.search vs grep -rn, {label} terms", ours, theirs,
                   target=50.0 if label == "rare" else None, note=f"20 queries, {words}")  # fmt: skip


def _grep(query: str, root: Path) -> None:
    subprocess.run(["grep", "-rn", "--include=transcript.txt", query, str(root)], capture_output=True, check=False)


def _cli_search(query: str, root: Path) -> None:
    argv = [sys.executable, "-m", "slidegrab", "search", query, "-o", str(root)]
    subprocess.run(argv, env=child_env(), capture_output=True, check=True)
