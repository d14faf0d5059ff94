"""Faults injected by the replica, through the real CLI.

Transient faults (5xx, 429 with Retry-After, resets, stalls past the read timeout, bodies cut short, HLS
segments that fail) sprinkled over a batch of every good catalogue talk change nothing in what is written.
Persistent faults (a host that is down, a 403 that stays, an expired token, a slide that is no image, audio
ffmpeg cannot read) fail their own talk with the reason in talk.json and the summary, spare the others, and
a rerun fetches only what failed. An expired presigned URL is renewed by resolving the talk again.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from media_checks import probe, stream_md5
from slidegrab.replica.fixtures import by_id, talk_url, yoda_video_id
from test_fetch import GOOD

TIMEOUT = 2.0  # --timeout of the soak: stalls last longer, so each one is a read timeout
STALL = TIMEOUT + 1.5
SLIDES = "slideslive-slides.b-cdn.net"
YODA = "*.rsc.cdn77.org"
SUBTITLES = "slideslive-video-subtitles.s3.amazonaws.com"
TRANSIENT = (  # each kind of transient fault, and the share of requests it spoils (in all, with the
    ({"kind": "status", "status": 503}, 0.02),  # segments' rule, about one request in ten)
    ({"kind": "status", "status": 429, "retry_after": 1}, 0.01),
    ({"kind": "reset"}, 0.02),
    ({"kind": "stall", "seconds": STALL}, 0.01),
    ({"kind": "truncate"}, 0.02),
)
MIN_FIRED = 4  # of each kind of fault, so the soak cannot pass without faults


def fetch(out: Path, urls: list[str], net_args: list[str], *extra: str) -> subprocess.CompletedProcess:
    """`slidegrab fetch` without transcription (it needs no network) and without the browser fallback,
    so that every fault meets the direct client's retries and cannot be hidden by Chromium."""
    return subprocess.run(
        [sys.executable, "-m", "slidegrab", "fetch", *urls, "-o", str(out), "-j", "4", "--no-transcribe"]
        + ["--no-browser", *net_args, *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@contextmanager
def injected(replica, *rules: dict):
    """The rules in force inside the block, removed after it whatever happens."""
    added = [replica.faults.add(**rule) for rule in rules]
    try:
        yield added
    finally:
        for rule in added:
            replica.faults.remove(rule)


def folder(out: Path, talk_id: str) -> Path:
    return next(out.glob(f"{talk_id}-*"))


def state(out: Path, talk_id: str) -> dict:
    return json.loads((folder(out, talk_id) / "talk.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(talk: Path) -> dict[str, str]:
    """Everything a fetch writes, as checksums: slides, audio and MP4 streams, chapters, PDF, site VTT."""
    record = json.loads((talk / "talk.json").read_text())
    prints = {p.name: sha256(p) for p in sorted((talk / "slides").iterdir())}
    prints["audio"] = stream_md5(talk / record["stages"]["audio"]["files"][0])
    prints["mp4-audio"] = stream_md5(talk / "slides-video.mp4", "0:a")
    prints["mp4-video"] = stream_md5(talk / "slides-video.mp4", "0:v")
    prints["chapters"] = json.dumps(probe(talk / "slides-video.mp4")["chapters"])
    prints["pdf"] = sha256(talk / "slides.pdf")
    prints.update({p.name: sha256(p) for p in talk.glob("site-subtitles.*.vtt")})
    prints["slide table"] = json.dumps(record["slides"])
    return prints


def summary(result: subprocess.CompletedProcess) -> str:
    """The summary table's text with its borders and line folds taken out."""
    return " ".join(result.stdout.replace("│", " ").split())


# --- transient faults ---


def sprinkle(hosts: list[str]) -> list[dict]:
    """Each host's first answer is cut short (the fault no client library retries by itself: every client
    meets it), then about one request in ten fails at random, each kind at a small rate, HLS segments
    (.m4s) more often."""
    first = [{"host": host, "times": 1, "kind": "truncate"} for host in hosts]
    segments = [{"path": "*.m4s", "kind": "status", "status": 502, "rate": 0.1, "seed": 1}]
    sprinkled = [{**kind, "rate": rate, "seed": seed} for seed, (kind, rate) in enumerate(TRANSIENT, 2)]
    return first + segments + sprinkled


def fired(replica, rules) -> Counter:
    """Faults by kind, from the request log (a stall is logged when it ends: wait for the last ones)."""
    stalls = sum(rule.fired for rule in rules if rule.kind == "stall")
    deadline = time.monotonic() + STALL + 5
    while sum(e.fault == "stall" for e in replica.log.entries) < stalls and time.monotonic() < deadline:
        time.sleep(0.2)
    return Counter(f"{e.fault} {e.status}" if e.fault == "status" else e.fault for e in replica.log.entries if e.fault)


@pytest.mark.slow
def test_transient_faults_leave_every_output_identical(replica, net_args, tmp_path):
    urls = [talk_url(f) for f in GOOD]
    replica.log.clear()
    reference = fetch(tmp_path / "reference", urls, net_args)
    assert reference.returncode == 0, reference.stdout + reference.stderr
    hosts = sorted({e.host for e in replica.log.entries})
    replica.log.clear()
    with injected(replica, *sprinkle(hosts)) as rules:
        soaked = fetch(tmp_path / "soaked", urls, net_args, "--timeout", str(TIMEOUT))
        counts = fired(replica, rules)
    assert soaked.returncode == 0, soaked.stdout + soaked.stderr
    assert f"{len(GOOD)} fetched, 0 already complete, 0 failed" in soaked.stdout
    for kind in ("status 503", "status 429", "status 502", "reset", "stall", "truncate"):
        assert counts[kind] >= MIN_FIRED, counts
    assert sum(counts.values()) >= 0.08 * replica.log.count(), counts
    assert {e.host for e in replica.log.entries if e.fault} == set(hosts)
    asked = Counter(e.url for e in replica.log.entries)
    assert all(asked[e.url] > 1 for e in replica.log.entries if e.fault == "stall")  # given up on, asked again
    for fixture in GOOD:
        expected = fingerprint(folder(tmp_path / "reference", fixture.id))
        assert fingerprint(folder(tmp_path / "soaked", fixture.id)) == expected, fixture.id


def test_a_manifest_that_fails_is_fetched_again_not_done_without(replica, net_args, tmp_path):
    """yt-dlp takes Vimeo's HLS manifest as optional: carrying on past its 503 it would pick the progressive
    MP4 and write other audio than a clean run does. slidegrab runs yt-dlp again instead."""
    manifest = {"host": "vod-adaptive-ak.vimeocdn.com", "path": "*/master.m3u8", "status": 503, "times": 2}
    replica.log.clear()
    with injected(replica, manifest) as (rule,):
        result = fetch(tmp_path, [talk_url(by_id("38925902"))], net_args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rule.fired == 2
    assert state(tmp_path, "38925902")["stages"]["audio"]["format_id"].startswith("hls-")
    assert replica.log.count(host="vod-progressive-ak.vimeocdn.com") == 0


# --- persistent faults ---

HEALTHY = "38990109"


def video_path(talk_id: str, glob: str) -> str:
    return f"/{yoda_video_id(by_id(talk_id))}/{glob}"


NOT_AN_IMAGE = b"<!DOCTYPE html><title>Moved</title><p>This slide has moved.</p>"
NOT_AUDIO = b"\x00garbage, not an MPEG-4 fragment " * 64
PERSISTENT = {  # talk: (the fault that stays, the stage that fails, words of the reason recorded)
    "38975015": ({"host": "rs.slideslive.com", "kind": "reset"}, "slides", "the connection was closed"),  # host down
    "38932408": (
        {"host": SLIDES, "path": "/38932408/*", "kind": "status", "status": 403},
        "slides",
        "answered HTTP 403, also after resolving the talk again",
    ),
    "38980107": (
        {"host": SLIDES, "path": "/38980107/*", "kind": "status", "status": 200, "body": NOT_AN_IMAGE},
        "slides",
        "is not an image",
    ),
    "38990101": (
        {"host": YODA, "path": video_path("38990101", "*.m4s"), "kind": "status", "status": 200, "body": NOT_AUDIO},
        "audio",
        "not a stream ffmpeg can read",
    ),
    "38912014": (  # an expired token on the media: resolved again once, refused again
        {"host": YODA, "path": video_path("38912014", "*"), "kind": "status", "status": 410},
        "audio",
        "answered HTTP 410",
    ),
}
SLIDE_FAILED = [t for t, (_, stage, _) in PERSISTENT.items() if stage == "slides"]


def talk_requests(replica, talk_id: str) -> list:
    """Requests that name the talk or its yoda video (slides, timings, player, media)."""
    names = (f"/{talk_id}", yoda_video_id(by_id(talk_id)))
    return [e for e in replica.log.entries if any(n in e.path for n in names)]


@pytest.mark.slow
def test_persistent_faults_fail_only_their_talks_and_a_rerun_retries_only_that(replica, net_args, tmp_path):
    urls = [f"https://slideslive.com/{t}" for t in (*PERSISTENT, HEALTHY)]
    replica.log.clear()
    with injected(replica, *(rule for rule, _, _ in PERSISTENT.values())):
        first = fetch(tmp_path, urls, net_args)
    assert first.returncode == 1, first.stdout + first.stderr
    table = summary(first)
    assert f"1 fetched, 0 already complete, {len(PERSISTENT)} failed" in table
    for talk_id, (_, stage, reason) in PERSISTENT.items():
        record = state(tmp_path, talk_id)["stages"][stage]
        assert record["status"] == "failed", talk_id
        assert reason in record["error"], record
        assert f"talk {talk_id}" in record["error"]
        assert reason in table, talk_id
    assert all(r["status"] == "done" for r in state(tmp_path, HEALTHY)["stages"].values())
    for talk_id in SLIDE_FAILED:  # what does not need the slides was done all the same; what needs them waits
        stages = state(tmp_path, talk_id)["stages"]
        assert stages["audio"]["status"] == stages["subtitles"]["status"] == "done", talk_id
        assert "merge" not in stages, talk_id
        assert "pdf" not in stages, talk_id
    # a refused signed URL (403, 410) made its talk resolve again, once; no other talk was resolved twice
    players = Counter(e.path for e in replica.log.entries if e.path.startswith("/player/"))
    assert players == {f"/player/{t}": 2 if t in ("38932408", "38912014") else 1 for t in (*PERSISTENT, HEALTHY)}

    replica.log.clear()
    again = fetch(tmp_path, urls, net_args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(PERSISTENT)} fetched, 1 already complete, 0 failed" in again.stdout
    assert replica.log.count(host="slideslive.com") == replica.log.count(host="s.slideslive.com") == 0  # resolved
    assert talk_requests(replica, HEALTHY) == []
    for talk_id in set(PERSISTENT) - set(SLIDE_FAILED):  # their slides were complete: none fetched again
        assert not [e for e in talk_requests(replica, talk_id) if "/slides/" in e.path], talk_id
    for talk_id in SLIDE_FAILED:  # nor their audio, fetched in the first run despite the slides
        assert not [e for e in talk_requests(replica, talk_id) if e.path.endswith(".m4s")], talk_id
    for talk_id in SLIDE_FAILED:  # each slide once; none was on disk
        slides = [e for e in talk_requests(replica, talk_id) if "/slides/" in e.path]
        assert len(slides) == len(by_id(talk_id).slides), talk_id
    for talk_id in PERSISTENT:
        assert all(r["status"] == "done" for r in state(tmp_path, talk_id)["stages"].values()), talk_id


def test_an_expired_presigned_url_is_renewed_by_resolving_again(replica, net_args, tmp_path):
    """S3 presigned subtitle URLs last 24 h: a rerun a day later meets 403 "Request has expired", resolves
    the talk once for a fresh URL and finishes."""
    url = talk_url(by_id("38956513"))
    with injected(replica, {"host": SUBTITLES, "kind": "status", "status": 404}):
        first = fetch(tmp_path, [url], net_args)
    assert first.returncode == 1
    stale = state(tmp_path, "38956513")["talk"]["subtitles"][0]["url"]
    replica.log.clear()
    replica.app.time_shift = 25 * 3600
    try:
        again = fetch(tmp_path, [url], net_args)
    finally:
        replica.app.time_shift = 0.0
    assert again.returncode == 0, again.stdout + again.stderr
    assert [e.status for e in replica.log.entries if e.host == SUBTITLES] == [403, 200]
    assert replica.log.count(host="slideslive.com", path="/player/38956513") == 1
    record = state(tmp_path, "38956513")
    assert record["talk"]["subtitles"][0]["url"] != stale
    assert record["stages"]["subtitles"]["status"] == "done"
    assert (folder(tmp_path, "38956513") / "site-subtitles.en.vtt").read_text().startswith("WEBVTT")
