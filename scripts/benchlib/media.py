"""Slides download (concurrent stage vs one-at-a-time GETs) and merge (MergeStage vs the seed's command)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from pathlib import Path

import requests

from benchlib.common import Row, Settings, median_time, rusage_children, speedup
from benchlib.remote import replica_process
from benchlib.talkfiles import talk_folder
from slidegrab.archive import Archive
from slidegrab.download import SlidesStage
from slidegrab.merge import MergeStage
from slidegrab.net import NetConfig
from slidegrab.resolve import resolve
from slidegrab.stages import StageContext, run_stage

DECK = "38935710"  # the replica's 300-slide deck


LATENCIES = (0.0, 0.02, 0.05)  # seconds a slide request waits (the replica's "stall"): none, near CDN, far CDN


def download(replica, net: NetConfig, settings: Settings) -> list[Row]:
    talk = resolve(f"https://slideslive.com/{DECK}", net)
    if settings.quick:
        talk = dataclasses.replace(talk, slides=talk.slides[:30])
    host = talk.slides[0].image_url.split("/")[2]
    rows = []
    for latency in LATENCIES[:1] if settings.quick else LATENCIES:
        faults = (f"{host}:/{DECK}/*:stall:{latency}",) if latency else ()
        with replica_process(replica.cache_dir, faults) as remote:
            ours, theirs = _download_times(talk, remote, settings)
        note = f"{len(talk.slides)} slides of deck {DECK}; replica in its own process"
        rows.append(speedup("download", f"SlidesStage vs one-at-a-time GETs, {latency * 1000:.0f} ms per request",
                            ours, theirs, target=4.0, note=note))  # fmt: skip
    return rows


def _download_times(talk, net: NetConfig, settings: Settings) -> tuple[float, float]:
    root = settings.work / "download"
    runs = iter(range(10**6))

    def ours() -> None:
        folder = Archive(root / f"ours-{next(runs)}").create(talk, talk.url)
        with net.session() as session:
            run_stage(SlidesStage(), folder, StageContext(net=net, session=session))

    def theirs() -> None:
        target = root / f"theirs-{next(runs)}"
        target.mkdir(parents=True)
        with requests.Session() as session:
            proxies = {"https": net.proxy, "http": net.proxy}
            for slide in talk.slides:
                response = session.get(slide.image_url, proxies=proxies, verify=net.verify_path, timeout=net.timeout)
                response.raise_for_status()
                (target / f"{slide.index:04d}{slide.ext}").write_bytes(response.content)

    try:
        return median_time(ours, settings.runs), median_time(theirs, settings.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def audio_md5(path: Path) -> str:
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy", "-f", "md5", "-"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def timed(job) -> tuple[float, float]:
    """Wall and child-CPU seconds of one call."""
    cpu_before, _ = rusage_children()
    started = time.perf_counter()
    job()
    wall = time.perf_counter() - started
    return wall, rusage_children()[0] - cpu_before


def seed_merge(folder: Path) -> None:
    """The seed: a concat list of the slides with their durations, then ffmpeg with its defaults."""
    rows = sorted((folder / "slides").glob("*.png"))
    starts = [float(s["start"]) for s in json.loads((folder / "talk.json").read_text())["talk"]["slides"]]
    ends = starts[1:] + [starts[-1] + (starts[1] - starts[0] if len(starts) > 1 else 1)]
    lines = [f"file 'slides/{p.name}'\nduration {b - a:.3f}" for p, a, b in zip(rows, starts, ends, strict=True)]
    (folder / "ffmpeg_concat.txt").write_text("\n".join([*lines, f"file 'slides/{rows[-1].name}'"]) + "\n")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-i", "ffmpeg_concat.txt",
                    "-i", "audio.m4a", "slides-video.mp4"], cwd=folder, check=True)  # fmt: skip


def merge(audio: Path, seconds: float, settings: Settings) -> list[Row]:
    slides = 5 if settings.quick else 40
    ours_folder = talk_folder(settings.work / "merge-ours", slides, audio, seconds)
    seed_folder = talk_folder(settings.work / "merge-seed", slides, audio, seconds).path
    ctx = StageContext(net=NetConfig(), session=requests.Session())
    ours = [timed(lambda: run_stage(MergeStage(), ours_folder, ctx, force=True)) for _ in range(settings.runs + 1)]
    seed = [timed(lambda: seed_merge(seed_folder)) for _ in range(settings.runs + 1)]
    (ow, oc), (sw, sc) = (sorted(x[1:])[len(x[1:]) // 2] for x in (ours, seed))
    ours_mp4, seed_mp4 = ours_folder.path / "slides-video.mp4", seed_folder / "slides-video.mp4"
    source = audio_md5(audio)
    copied = {name: audio_md5(p) == source for name, p in (("ours", ours_mp4), ("seed", seed_mp4))}
    note = f"{seconds:.0f} s talk, {slides} slides; audio bit-exact: ours {copied['ours']}, seed {copied['seed']}"
    return [
        speedup("merge", "wall time", ow, sw, target=20.0, note=note),
        speedup("merge", "CPU time", oc, sc, note="ffmpeg's CPU (children)"),
        speedup("merge", "output size", ours_mp4.stat().st_size / 2**20, seed_mp4.stat().st_size / 2**20, "MiB"),
        Row(
            "merge",
            "audio copied bit for bit (1 = yes)",
            float(copied["ours"]),
            float(copied["seed"]),
            "bool",
            1.0 if copied["ours"] else 0.0,
            target=1.0,
        ),
    ]
