"""The browser in a batch: no Chromium or chromedriver outlives slidegrab, however slidegrab ends (Ctrl-C,
SIGKILL of its process group, SIGKILL of its process alone), and a page that hangs once mid-batch costs a
browser restart, not the talk.

Other test runs use Chromium on the same machine at the same time, so this run's processes are told apart
by their profile folder (under a TMPDIR of the test's own) and by process group, never by name alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from slidegrab.pipeline import FetchOptions, fetch
from slidegrab.progress import Display
from slidegrab.replica.fixtures import by_id
from slidegrab.replica.sites.conference import page_url
from slidegrab.resolve import browser as browser_module
from slidegrab.resolve.chromium import group, processes

pytestmark = pytest.mark.browser

EMBED_ONLY = "39012305"  # embed-only, and its NeurIPS page embeds it with a plain iframe
PAGE = page_url(by_id(EMBED_ONLY).conference)
UNREADABLE = b"#EXTM3U\n"  # a player response without its tags: the direct client gives up, the browser tries


@pytest.fixture
def temp():
    """A TMPDIR of the test's own, with a short path: Chromium's profile holds a Unix socket (108 bytes at most)."""
    path = Path(tempfile.mkdtemp(prefix="sg-orphans-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def send_to_the_browser(replica, talk_id: str, stall: float):
    """Faults that make the talk a browser's job: the direct client's player response is unreadable (once),
    and the browser's own player request then stalls for ``stall`` seconds (once)."""
    path = f"/player/{talk_id}"
    unreadable = replica.faults.add(host="slideslive.com", path=path, status=200, body=UNREADABLE, times=1)
    stalled = replica.faults.add(host="slideslive.com", path=path, kind="stall", seconds=stall, times=1)
    return unreadable, stalled


def mentioning(text: str) -> list[int]:
    """Live processes whose command line mentions ``text`` (Chromium names its profile; so does the watchdog)."""
    found = []
    for pid in processes():
        try:
            if text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def children(parent: int, name: str) -> list[int]:
    table = processes()
    return [pid for pid, (ppid, _) in table.items() if ppid == parent and _comm(pid) == name]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def wait_until(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout:g} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill-group", "sigkill-process"])
def test_no_browser_outlives_a_stopped_fetch(replica, net_args, tmp_path, temp, how):
    rules = send_to_the_browser(replica, EMBED_ONLY, stall=30)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "slidegrab", "fetch", PAGE, "-o", str(tmp_path / "out"), "-q", "--no-transcribe"]
            + net_args,
            env={**os.environ, "TMPDIR": str(temp)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        wait_until(lambda: rules[1].fired or process.poll() is not None, 60, "the browser's player request")
        assert process.poll() is None, process.communicate()[0][-3000:]
        (driver,) = children(process.pid, "chromedriver")
        assert len(group(driver)) > 2  # chromedriver, Chromium and its helpers
        assert mentioning(str(temp))  # Chromium, by its profile
        stop(process, how)
        _, stderr = process.communicate(timeout=10)
    finally:
        for rule in rules:
            replica.faults.remove(rule)
    wait_until(lambda: not group(driver) and not mentioning(str(temp)), 5, "the browser's end")
    assert not list(temp.glob("slidegrab-chromium-*"))  # the profile is removed too
    if how == "ctrl-c":
        assert process.returncode == 130
        assert stderr.strip().splitlines()[-1] == (
            "slidegrab: interrupted: 0 of 1 talks finished; run the same command again to resume"
        )


def stop(process: subprocess.Popen, how: str) -> None:
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # what a terminal sends its foreground process group
    elif how == "sigkill-group":
        os.killpg(process.pid, signal.SIGKILL)
    else:
        os.kill(process.pid, signal.SIGKILL)


def test_a_page_that_hangs_mid_batch_costs_a_browser_restart_not_the_talk(replica, net, tmp_path, temp, monkeypatch):
    monkeypatch.setattr(browser_module, "PAGE_TIMEOUT_S", 3)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # this run's Chromium profiles, told apart
    drivers_before = children(os.getpid(), "chromedriver")  # the module's other tests may keep one running
    rules = send_to_the_browser(replica, EMBED_ONLY, stall=10)
    urls = ["https://slideslive.com/38990101", PAGE, "https://slideslive.com/38980107"]
    try:
        results = fetch(urls, FetchOptions(tmp_path / "out", net, jobs=2, transcript=None), Display())
    finally:
        for rule in rules:
            replica.faults.remove(rule)
    assert [r.status for r in results] == ["done"] * 3, [r.error for r in results]
    assert [r.talk_id for r in results] == ["38990101", EMBED_ONLY, "38980107"]
    assert [rule.fired for rule in rules] == [1, 1]  # the browser met the stall, and loaded the page again
    assert children(os.getpid(), "chromedriver") == drivers_before
    assert mentioning(str(temp)) == []
    assert not list(temp.glob("slidegrab-chromium-*"))
