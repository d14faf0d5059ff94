"""Generated talks (fixtures.generated): distinct, new, deterministic, and served like any plain catalogue talk
(the benchmarks rely on them to reach 20 distinct talks)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from slidegrab.archive import Archive
from slidegrab.download import SlidesStage
from slidegrab.net import NetConfig
from slidegrab.replica import Replica
from slidegrab.replica.fixtures import CATALOGUE, generated
from slidegrab.replica.slideart import slide_colour
from slidegrab.resolve import resolve
from slidegrab.stages import StageContext, run_stage


def test_twenty_generated_talks_are_distinct_new_and_deterministic():
    talks = generated(20)
    ids = [f.id for f in talks]
    assert len(set(ids)) == 20
    assert all(len(i) == 8 and i.startswith("3960") for i in ids)
    assert not set(ids) & {f.id for f in CATALOGUE}
    assert len({f.title for f in talks}) == 20
    assert generated(20) == talks
    assert generated(5) == talks[:5]  # a smaller count is the same talks, not others


def test_generated_talks_are_plain_decks_with_spoken_terms():
    for fixture in generated(20):
        assert (fixture.service, fixture.timings, fixture.embed_only) == ("yoda", "json", False), fixture.id
        assert 6 <= len(fixture.slides) <= 10, fixture.id
        assert 1 <= len(fixture.speakers) <= 2, fixture.id
        for slide in fixture.slides:
            assert (bool(slide.title), slide.ext, 1 <= len(slide.terms) <= 2) == (True, ".png", True), slide
            assert all(term in slide.say for term in slide.terms), (fixture.id, slide)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Where the session's replica keeps its CA and media, so generated media are made once."""
    return tmp_path_factory.getbasetemp().parent / "replica-cache"


@pytest.fixture(scope="module")
def extra_replica(cache_dir):
    """A replica that also serves two generated talks."""
    with Replica(cache_dir=cache_dir, catalogue=CATALOGUE + generated(2)) as r:
        yield r


def test_a_generated_talk_resolves_and_its_slides_download(extra_replica, tmp_path):
    fixture = generated(2)[1]
    net = NetConfig(proxy=extra_replica.proxy_url, ca_bundle=extra_replica.ca_path, retries=1, backoff=0.05)
    url = f"https://slideslive.com/{fixture.id}"
    talk = resolve(url, net)
    assert (talk.id, talk.title) == (fixture.id, fixture.title)
    assert [s.start for s in talk.slides] == [s.time_ms / 1000 for s in fixture.slides]

    folder = Archive(tmp_path).create(talk, url)
    with net.session() as session:
        assert run_stage(SlidesStage(), folder, StageContext(net=net, session=session))
    files = folder.stage("slides")["files"]
    assert files == [f"slides/{i:04d}.png" for i in range(1, len(fixture.slides) + 1)]
    for index, file in enumerate(files, 1):
        with Image.open(folder.path / file) as image:
            rgb = image.convert("RGB")
            pixel = rgb.getpixel((max(2, rgb.width // 50), rgb.height // 2))
        assert all(abs(a - b) <= 4 for a, b in zip(pixel, slide_colour(fixture.id, index), strict=True)), file
    assert extra_replica.escapes == []


@pytest.mark.parametrize(("extra", "served"), [([], False), (["--extra-talks", "2"], True)])
def test_the_standalone_replica_serves_generated_talks_only_when_asked(extra, served, cache_dir):
    fixture = generated(2)[1]
    resolve_it = [sys.executable, "-m", "slidegrab", "resolve", f"https://slideslive.com/{fixture.id}"]
    command = [sys.executable, "-m", "slidegrab.replica", "--cache-dir", str(cache_dir), *extra, "run", "--"]
    command += [*resolve_it, "--proxy", "{proxy}", "--ca-bundle", "{ca}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode == 0) is served, done.stderr[-2000:]
    assert (fixture.title in done.stdout) is served
