"""Stopping `slidegrab fetch`: Ctrl-C or SIGTERM mid-stage ends it within seconds, in one line, exit 130,
with the stage in flight recorded as not done and no temporary file left; SIGKILL at twenty random moments
of a batch never leaves a file or a talk.json that lies, and the archive then completes to the very bytes of
a run that was never stopped."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from media_checks import assert_talk_is_honest
from slidegrab.archive import TEMP_NAME
from test_resume import fingerprint

DENSE = "38935710"  # 300 slides, 86 s of speech: its slides, audio and merge take long enough to be caught
SHORT = ["38990101", "38980107", "38932408"]  # a few seconds each
LINE = re.compile(r"slidegrab: interrupted: (\d+) of (\d+) talks finished; run the same command again to resume")
STOPPED_WITHIN_S = 5


def url(talk: str) -> str:
    return f"https://slideslive.com/{talk}"


def start(out: Path, net_args: list[str], talks: list[str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "slidegrab", "fetch", *map(url, talks), "-o", str(out), "-q", *extra, *net_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )


def run(out: Path, net_args: list[str], talks: list[str], *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "slidegrab", "fetch", *map(url, talks), "-o", str(out), "-q", *extra, *net_args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def wait_for(process: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"fetch ended before the moment to stop it: {process.communicate()[1]}"
        assert time.monotonic() < deadline, "the moment to stop it never came"
        time.sleep(0.02)


def folder(out: Path, talk: str) -> Path:
    return next(out.glob(f"{talk}-*"))


def stages(out: Path, talk: str) -> dict:
    try:
        return json.loads((folder(out, talk) / "talk.json").read_text()).get("stages", {})
    except (StopIteration, OSError):
        return {}


def temp_files(out: Path) -> list[Path]:
    """slidegrab's own temporary files (yt-dlp's resumable .part files are not among them)."""
    return [p for p in out.rglob(".*.part") if TEMP_NAME.fullmatch(p.name)]


def assert_nothing_lies(out: Path) -> None:
    """Every talk folder is honest (media_checks) and the index is a sound SQLite file."""
    for state in out.glob("*/talk.json"):
        assert_talk_is_honest(state.parent)
    if (out / "library.db").exists():
        with sqlite3.connect(out / "library.db") as db:
            assert db.execute("pragma integrity_check").fetchone() == ("ok",)


def stop(process: subprocess.Popen, how: str) -> tuple[float, str]:
    """Send Ctrl-C (to the process group, as a terminal does) or SIGTERM (to the process, as a scheduler
    does); how long it took to exit, and what it said."""
    sent = time.monotonic()
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    return time.monotonic() - sent, stderr


# what is in flight when the signal comes: (talks, extra options, fault, moment, stage caught)
MOMENTS = {
    "slides": (
        [DENSE, *SHORT[:2]],
        ["--no-transcribe", "-j", "2"],
        ("slideslive-slides.b-cdn.net", f"/{DENSE}/slides/*/00[12]??.*", 1.5),
        lambda out, rule: rule.fired and len(list(out.glob(f"{DENSE}-*/slides/[0-9]*"))) >= 60,
        "slides",
    ),
    "audio": (
        [DENSE],
        ["--no-transcribe"],
        ("*.rsc.cdn77.org", "/*/chunk_2_00008.m4s", 2),
        lambda out, rule: rule.fired,
        "audio",
    ),
    "merge": (
        [DENSE],
        ["--no-transcribe"],
        None,
        lambda out, rule: list(out.glob(f"{DENSE}-*/.slides-video.mp4.*.part")),
        "merge",
    ),
    "whisper": (
        [SHORT[0]],
        [],
        None,
        lambda out, rule: stages(out, SHORT[0]).get("ocr", {}).get("status") == "done",
        "transcribe",
    ),
}


@pytest.mark.parametrize(
    ("moment", "how"),
    [("slides", "ctrl-c"), ("audio", "sigterm"), ("merge", "ctrl-c"), ("merge", "sigterm"), ("whisper", "ctrl-c")],
)
def test_a_stopped_fetch_ends_at_once_and_resumes(replica, net_args, tmp_path, moment, how):
    talks, extra, fault, ready, caught = MOMENTS[moment]
    rule = replica.faults.add(host=fault[0], path=fault[1], kind="stall", seconds=fault[2]) if fault else None
    try:
        process = start(tmp_path, net_args, talks, *extra)
        wait_for(process, lambda: ready(tmp_path, rule))
        if moment == "whisper":
            time.sleep(1)  # the model is loading or decoding
        took, stderr = stop(process, how)
    finally:
        if rule:
            replica.faults.remove(rule)
    assert process.returncode == 130, stderr
    assert took < STOPPED_WITHIN_S
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    said = LINE.fullmatch(lines[0])
    assert said, stderr
    assert int(said.group(2)) == len(talks)
    record = stages(tmp_path, talks[0])[caught]
    assert record["status"] == "failed", record
    assert "interrupted" in record["error"]
    assert temp_files(tmp_path) == []
    assert_nothing_lies(tmp_path)

    again = run(tmp_path, net_args, talks, *extra)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(r["status"] == "done" for t in talks for r in stages(tmp_path, t).values())
    assert [p for p in tmp_path.rglob("*") if p.name.endswith(".part")] == []
    assert_nothing_lies(tmp_path)


def test_ctrl_c_during_a_request_that_stalls_does_not_wait_out_the_timeout(replica, net_args, tmp_path):
    """A slide request that hangs (the read timeout is 60 s here) cannot be interrupted: after the grace
    period the run leaves it behind and exits, having written nothing for it; the rerun completes."""
    talk, extra = SHORT[0], ["--no-transcribe", "--timeout", "60"]
    rule = replica.faults.add(host="slideslive-slides.b-cdn.net", path=f"/{talk}/*", kind="stall", seconds=120)
    try:
        process = start(tmp_path, net_args, [talk], *extra)
        wait_for(process, lambda: rule.fired)
        time.sleep(0.5)
        took, stderr = stop(process, "ctrl-c")
    finally:
        replica.faults.remove(rule)
    assert process.returncode == 130, stderr
    assert took < STOPPED_WITHIN_S + 3  # the grace period, and no 60 s timeout
    assert LINE.fullmatch(stderr.strip().splitlines()[-1]), stderr
    assert temp_files(tmp_path) == []
    assert stages(tmp_path, talk).get("slides", {}).get("status") != "done"
    assert_nothing_lies(tmp_path)
    again = run(tmp_path, net_args, [talk], *extra)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.slow
def test_sigkill_at_twenty_random_moments_never_leaves_a_lie(replica, net_args, tmp_path):
    """Each run continues the archive the previous one was killed in; a run that finished before its moment
    came leaves a complete archive, and the next run starts a new one (a kill there would hit no work)."""
    options = ["--no-transcribe", "-j", "2"]
    began = time.monotonic()
    reference = run(tmp_path / "reference", net_args, SHORT, *options)
    duration = time.monotonic() - began
    assert reference.returncode == 0, reference.stdout + reference.stderr
    archives, chance, killed = [tmp_path / "archive-1"], random.Random(20), 0
    for _ in range(20):
        process = start(archives[-1], net_args, SHORT, *options)
        time.sleep(chance.uniform(0, duration))
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: slidegrab, ffmpeg, yt-dlp's helpers
        process.communicate()
        assert_nothing_lies(archives[-1])
        if process.returncode == 0:
            archives.append(tmp_path / f"archive-{len(archives) + 1}")
        else:
            assert process.returncode == -signal.SIGKILL
            killed += 1
    assert killed >= 10, f"only {killed} of the 20 runs were still at work when killed"
    for archive in archives:
        final = run(archive, net_args, SHORT, *options)
        assert final.returncode == 0, final.stdout + final.stderr
        assert temp_files(archive) == []
        for talk in SHORT:
            assert fingerprint(folder(archive, talk)) == fingerprint(folder(tmp_path / "reference", talk)), talk
