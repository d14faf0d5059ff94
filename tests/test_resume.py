"""Kill -9 of `slidegrab fetch` at several points, then a rerun: complete, identical outputs, nothing that was
complete downloaded again, and never a half-written file under its final name."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from media_checks import assert_talk_is_honest, probe, stream_md5

TALK = "38935710"  # 300 slides, 86 s of speech: every stage takes long enough to be caught in the act
URL = f"https://slideslive.com/{TALK}"
SLIDES_HOST = "slideslive-slides.b-cdn.net"


def start_fetch(out: Path, net_args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "slidegrab", "fetch", URL, "-o", str(out), "-j", "1", "--no-transcribe", *net_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: kill -9 takes ffmpeg and Chromium with it
    )


def kill_when(process: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "fetch ended before the moment to kill it"
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def folder(out: Path) -> Path:
    return next(out.glob(f"{TALK}-*"))


def rerun(out: Path, net_args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slidegrab", "fetch", URL, "-o", str(out), "--no-transcribe", *net_args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_nothing_lies(out: Path) -> None:
    """After a kill: every file under its final name is whole, and talk.json claims only what exists."""
    if list(out.glob(f"{TALK}-*")):
        assert_talk_is_honest(folder(out))


def fingerprint(talk: Path) -> dict[str, str]:
    prints = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((talk / "slides").iterdir())}
    prints["audio"] = stream_md5(talk / "audio.m4a")
    prints["mp4-audio"] = stream_md5(talk / "slides-video.mp4", "0:a")
    prints["mp4-video"] = stream_md5(talk / "slides-video.mp4", "0:v")
    prints["chapters"] = json.dumps(probe(talk / "slides-video.mp4")["chapters"])
    return prints


@pytest.fixture(scope="module")
def reference(replica, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    result = rerun(out, ["--proxy", replica.proxy_url, "--ca-bundle", str(replica.ca_path)])
    assert result.returncode == 0, result.stdout + result.stderr
    return fingerprint(folder(out))


def test_kill_during_slide_downloads(replica, reference, tmp_path, net_args):
    rule = replica.faults.add(host=SLIDES_HOST, path=f"/{TALK}/slides/*/00150.*", kind="stall", seconds=60)
    try:
        process = start_fetch(tmp_path, net_args)
        kill_when(process, lambda: rule.fired and len(list(tmp_path.glob(f"{TALK}-*/slides/[0-9]*"))) >= 100)
    finally:
        replica.faults.remove(rule)
    assert_nothing_lies(tmp_path)
    present = len(list((folder(tmp_path) / "slides").glob("[0-9]*")))
    replica.log.clear()
    assert rerun(tmp_path, net_args).returncode == 0
    assert replica.log.count(host=SLIDES_HOST) == 300 - present  # only the missing slides are fetched
    assert fingerprint(folder(tmp_path)) == reference


def test_kill_during_audio_download(replica, reference, tmp_path, net_args):
    rule = replica.faults.add(host="*.rsc.cdn77.org", path="/*/chunk_2_00008.m4s", kind="stall", seconds=60)
    try:
        process = start_fetch(tmp_path, net_args)
        kill_when(process, lambda: rule.fired)
    finally:
        replica.faults.remove(rule)
    assert_nothing_lies(tmp_path)
    assert not (folder(tmp_path) / "audio.m4a").exists()
    replica.log.clear()
    assert rerun(tmp_path, net_args).returncode == 0
    assert replica.log.count(host=SLIDES_HOST) == 0  # the slides were complete
    assert replica.log.count(host="*.rsc.cdn77.org", path="/*/chunk_2_00001.m4s") == 0  # the audio resumed
    assert fingerprint(folder(tmp_path)) == reference


def test_kill_during_merge(replica, reference, tmp_path, net_args):
    process = start_fetch(tmp_path, net_args)
    kill_when(process, lambda: list(tmp_path.glob(f"{TALK}-*/.slides-video.mp4.*.part")))
    assert_nothing_lies(tmp_path)
    assert not (folder(tmp_path) / "slides-video.mp4").exists()
    replica.log.clear()
    result = rerun(tmp_path, net_args)
    assert result.returncode == 0, result.stdout
    # everything downloaded was complete: only the merge was redone (a stall injected by an earlier test may
    # still answer its long-gone client meanwhile; it is not a request of this run)
    assert [e for e in replica.log.entries if e.fault != "stall"] == []
    assert fingerprint(folder(tmp_path)) == reference
    assert not list(folder(tmp_path).glob(".*.part"))
