"""Two fetches at once on one archive, and a disk that fills up (issue 5, "The process"): the second fetch is
refused in one line, a full disk fails the talk in one line, and nothing already written is lost.

The full disk is a real small filesystem (a tmpfs mounted by the test, which needs root); the file size
limit (RLIMIT_FSIZE, which anyone may lower) fails writes the same way and runs everywhere, so the disk
checks never all skip. Shards and plain fetches locking each other out: tests/test_shard.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from media_checks import assert_talk_is_honest
from test_resume import fingerprint

TALK = "38990101"  # complete before the disk fills
OTHER = "38932408"  # four png and jpg slides (64 KB), 87 KB of audio, a 121 KB MP4
SLIDES_HOST = "slideslive-slides.b-cdn.net"
WIDE = {**os.environ, "COLUMNS": "400"}  # the summary table keeps each talk on one line


def fetch(out: Path, talk: str, net_args: list[str], **popen) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "slidegrab", "-q", "fetch", f"https://slideslive.com/{talk}", "-o", str(out)]
    return subprocess.run(
        [*command, "--no-transcribe", *net_args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=WIDE,
        **popen,
    )


def folder(out: Path, talk: str) -> Path | None:
    return next(out.glob(f"{talk}-*"), None)


def snapshot(path: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(path)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def assert_nothing_lies(talk: Path | None) -> dict:
    """talk.json and every file are honest (media_checks), and no temporary or partial download is left
    (yt-dlp's cannot be trusted after a full disk)."""
    if talk is None:
        return {}
    state = assert_talk_is_honest(talk)
    leftovers = [p.name for p in talk.rglob("*") if p.name.endswith((".part", ".ytdl")) or ".part-Frag" in p.name]
    assert leftovers == []
    return state


def assert_disk_full(result: subprocess.CompletedProcess, message: str) -> None:
    """The talk failed with ``message`` as its row of the summary (which the table may wrap), nothing else."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 fetched, 0 already complete, 1 failed" in result.stdout
    assert squash(message) in squash(result.stdout), result.stdout
    assert "internal error" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def squash(text: str) -> str:
    return re.sub(r"[\s│┃]", "", text)


def done(state: dict, stage: str) -> bool:
    return state.get("stages", {}).get(stage, {}).get("status") == "done"


@pytest.fixture(scope="module")
def reference(replica, tmp_path_factory) -> dict[str, str]:
    """OTHER fetched on a roomy disk: what it must look like once the disk has room again."""
    out = tmp_path_factory.mktemp("reference")
    result = fetch(out, OTHER, ["--proxy", replica.proxy_url, "--ca-bundle", str(replica.ca_path)])
    assert result.returncode == 0, result.stdout + result.stderr
    return fingerprint(folder(out, OTHER))


# --- two fetches at once ---


def test_a_second_fetch_is_refused_while_the_first_runs(replica, net_args, tmp_path):
    rule = replica.faults.add(host=SLIDES_HOST, path=f"/{TALK}/slides/*", kind="stall", seconds=6, times=1)
    command = [sys.executable, "-m", "slidegrab", "-q", "fetch", f"https://slideslive.com/{TALK}", "-o", str(tmp_path)]
    first = subprocess.Popen([*command, "--no-transcribe", *net_args], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not rule.fired:  # the first fetch is at work, in its slides stage, holding the lock
            assert first.poll() is None, "the first fetch ended before its slide stalled"
            assert time.monotonic() < deadline, "the slide never stalled"
            time.sleep(0.05)
    finally:
        replica.faults.remove(rule)
    second = fetch(tmp_path, OTHER, net_args)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr.count("\n") == 1, second.stderr
    assert f"another slidegrab fetch (pid {first.pid}) is working on {tmp_path}" in second.stderr
    assert "wait for it to finish" in second.stderr
    assert first.wait(timeout=120) == 0, first.stdout.read()
    assert folder(tmp_path, OTHER) is None  # refused before any work
    assert done(assert_nothing_lies(folder(tmp_path, TALK)), "pdf")
    again = fetch(tmp_path, TALK, net_args)  # the lock went with the first process
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already complete" in again.stdout


# --- a full disk ---


@contextmanager
def small_disk(path: Path, size: str = "4m"):
    """A tmpfs of ``size`` mounted at ``path`` (root only; the file size limit test runs for anyone)."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root; test_the_file_size_limit… covers full writes")
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=False)
    if mount.returncode != 0:
        pytest.skip("mount(8) refused a tmpfs; test_the_file_size_limit… covers full writes")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def leave_free(disk: Path, free: int) -> None:
    """Fill the disk with a ballast file until ``free`` bytes are left."""
    ballast = disk / "ballast"
    ballast.unlink(missing_ok=True)
    with open(ballast, "wb") as f:
        f.write(b"\0" * (shutil.disk_usage(disk).free - free))


# bytes left free → the stage the disk runs out in (measured: slides fail below ~110 KB, the audio below
# ~250 KB, the merge below ~330 KB); each value sits in the middle of its range
ROOM = (("slides", 70_000), ("audio", 180_000), ("merge", 290_000))


def test_a_full_disk_fails_the_talk_clearly_and_loses_nothing(replica, net_args, reference, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        assert fetch(disk, TALK, net_args).returncode == 0
        complete = snapshot(folder(disk, TALK))
        for stage, free in ROOM:
            shutil.rmtree(folder(disk, OTHER) or disk / "none", ignore_errors=True)
            leave_free(disk, free)
            result = fetch(disk, OTHER, net_args)
            where = folder(disk, OTHER) or f"{disk}/{OTHER}-"  # (no folder when not even its mkdir fitted)
            assert_disk_full(result, f"talk {OTHER}: no space left on the disk at {where}")
            assert squash("(free space and run again)") in squash(result.stdout)
            state = assert_nothing_lies(folder(disk, OTHER))
            before = [s for s, _ in ROOM[: [s for s, _ in ROOM].index(stage)]]
            assert [s for s in before if not done(state, s)] == [], (stage, state.get("stages"))
            assert not done(state, stage), (stage, state.get("stages"))
            assert snapshot(folder(disk, TALK)) == complete
        (disk / "ballast").unlink()
        again = fetch(disk, OTHER, net_args)
        assert again.returncode == 0, again.stdout + again.stderr
        assert fingerprint(folder(disk, OTHER)) == reference  # what a rerun made of the pieces is whole
        assert snapshot(folder(disk, TALK)) == complete


def test_the_file_size_limit_fails_the_talk_clearly_and_loses_nothing(replica, net_args, reference, tmp_path):
    """RLIMIT_FSIZE of 64 KB: the slides and talk.json fit, the 87 KB audio does not (EFBIG)."""
    assert fetch(tmp_path, TALK, net_args).returncode == 0
    complete = snapshot(folder(tmp_path, TALK))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    result = fetch(tmp_path, OTHER, net_args, preexec_fn=limit)
    where = folder(tmp_path, OTHER)
    assert_disk_full(result, f"talk {OTHER}: a file outgrew the file size limit at {where} (raise the limit")
    assert squash("(ulimit -f) and run again)") in squash(result.stdout)
    state = assert_nothing_lies(folder(tmp_path, OTHER))
    assert done(state, "slides")
    assert not done(state, "audio")
    assert snapshot(folder(tmp_path, TALK)) == complete
    again = fetch(tmp_path, OTHER, net_args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert fingerprint(folder(tmp_path, OTHER)) == reference
