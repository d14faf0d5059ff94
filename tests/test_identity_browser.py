"""A conference page whose talk only its scripts show: rendered in the run's browser to learn its talk, so that
it and another URL of the same talk are one talk, fetched once and by one shard (identity.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from slidegrab.archive import Archive, TalkFolder
from slidegrab.identity import one_per_talk, talk_keys
from slidegrab.pipeline import SharedBrowser
from slidegrab.replica.fixtures import by_id
from slidegrab.replica.sites.conference import page_url, scripted_data_path, scripted_url
from slidegrab.resolve import resolve
from slidegrab.resolve.browser import BrowserResolver
from slidegrab.resolve.conference import NoEmbedError
from slidegrab.shard import shard_of
from test_shard import run_cli, run_shards, shard_ids

pytestmark = pytest.mark.browser

TALK = "38925901"  # ICLR 2020, four legacy jpg slides
PAGE = by_id(TALK).conference
SCRIPTED = scripted_url(PAGE)  # its embed exists only once its script has fetched the presentation id
DIRECT = f"https://slideslive.com/{TALK}/gaussian-processes"


def test_the_resolver_renders_a_page_whose_html_embeds_no_talk(net):
    with pytest.raises(NoEmbedError):
        resolve(SCRIPTED, net)
    with BrowserResolver(net) as browser:
        talk = resolve(SCRIPTED, net, browser=browser)
    assert (talk.id, talk.page_url, talk.speakers, talk.conference) == (TALK, SCRIPTED, PAGE.authors, PAGE.conference)


def test_talk_keys_render_only_the_pages_whose_html_embeds_no_talk(net, tmp_path):
    about = f"https://{PAGE.host}/virtual_2020/about.html"  # no talk, not even once rendered
    browser = SharedBrowser(net)
    try:
        assert talk_keys([DIRECT, page_url(PAGE)], Archive(tmp_path), net, browser) == dict.fromkeys(
            [DIRECT, page_url(PAGE)], TALK
        )
        assert browser._browser is None  # their HTML told: no Chromium was started
        keys = talk_keys([SCRIPTED, about, DIRECT, SCRIPTED], Archive(tmp_path), net, browser)
    finally:
        browser.close()
    assert keys == {SCRIPTED: TALK, about: about, DIRECT: TALK}
    assert one_per_talk([DIRECT, about, SCRIPTED], keys) == [SCRIPTED, about]  # the page, in the URL's place
    assert talk_keys([SCRIPTED], Archive(tmp_path), net) == {SCRIPTED: SCRIPTED}  # no browser: by its URL


@pytest.mark.slow
def test_shards_fetch_a_scripted_page_and_its_talks_url_once_by_the_talks_shard(replica, net_args, tmp_path):
    owner = shard_of(DIRECT, 3)
    assert shard_of(SCRIPTED, 3) != owner  # by their URLs they would land in two shards
    (tmp_path / "urls.txt").write_text(f"{SCRIPTED}\n{DIRECT}\n")
    archive, mark = tmp_path / "archive", len(replica.log.entries)
    run_shards(["fetch", str(tmp_path / "urls.txt"), "-o", str(archive), "--no-transcribe", *net_args])
    assert_fetched_once(replica.log.entries[mark:], archive)
    assert [set(shard_ids(archive / f"library-shard-{k}-of-3.db")) for k in range(3)] == [
        {TALK} if k == owner else set() for k in range(3)
    ]


@pytest.mark.slow
def test_a_plain_fetch_of_both_fetches_the_talk_once_and_no_browser_means_none(replica, net_args, tmp_path):
    mark = len(replica.log.entries)
    off = run_cli("fetch", SCRIPTED, "-o", str(tmp_path / "off"), "--no-transcribe", "--no-browser", *net_args)
    assert off.returncode == 1, off.stdout + off.stderr  # the page's talk is not learned, nor resolved
    assert not any(e.path == scripted_data_path(PAGE) for e in replica.log.entries[mark:])  # nothing rendered it

    archive, mark = tmp_path / "archive", len(replica.log.entries)
    result = run_cli("fetch", DIRECT, SCRIPTED, "-o", str(archive), "--no-transcribe", *net_args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 fetched, 0 already complete, 0 failed." in result.stdout  # one row: one talk, not two URLs
    assert_fetched_once(replica.log.entries[mark:], archive)


def assert_fetched_once(log: list, archive) -> None:
    """One folder for the talk, made from the page (it carries the authors); its audio and slides fetched once
    (the player in the browser shows the first slide each time a page is rendered, so that one is not counted)."""
    folders = list(archive.glob("*/talk.json"))
    assert [p.parent.name[:8] for p in folders] == [TALK]
    assert TalkFolder.load(folders[0].parent).talk.page_url == SCRIPTED
    assert sum(e.path.endswith("/chunk_2_00001.m4s") for e in log) == 1
    slides = Counter(e.path for e in log if e.path.startswith(f"/data/presentations/{TALK}/slides/"))
    assert len(slides) == 4
    assert sorted(slides.values())[:3] == [1, 1, 1]
