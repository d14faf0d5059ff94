"""The headless-Chromium resolver against the replica: same Talks as the direct client, discovery of
pages built by JavaScript, and a browser that is restarted when it dies and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest

from slidegrab.errors import BrowserError, EmbedOnlyError, NotFoundError, NotVodError, SlidegrabError
from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import CATALOGUE, by_id
from slidegrab.replica.sites.conference import listing_url, page_url
from slidegrab.resolve import chromium, resolve
from slidegrab.resolve.browser import BrowserResolver
from slidegrab.resolve.conference import NoEmbedError, discover
from slidegrab.talk import Talk
from slidegrab.urls import embed_url, parse_talk_url

pytestmark = pytest.mark.browser

CONFERENCE = [f for f in CATALOGUE if f.conference]
EMBED_ONLY = [f for f in CATALOGUE if f.embed_only]
LISTINGS = list(dict.fromkeys(listing_url(f.conference) for f in CONFERENCE))
PLAIN = "https://slideslive.com/38990101"


@pytest.fixture(scope="module")
def module_net(replica) -> NetConfig:
    return NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path, retries=1, backoff=0.05)


@pytest.fixture(scope="module")
def browser(module_net):
    with BrowserResolver(module_net) as resolver:
        yield resolver


def answer(resolve_it, *args, **kw) -> Talk | type:
    """A Talk, or the class of the slidegrab error raised instead.

    Subtitle URLs are presigned when the player response is made (X-Amz-Date, to the second, and the
    signature over it), so two resolutions of one talk differ there; their query is dropped here."""
    try:
        talk = resolve_it(*args, **kw)
    except SlidegrabError as e:
        return type(e)
    subtitles = tuple(dataclasses.replace(s, url=s.url.split("?", 1)[0]) for s in talk.subtitles)
    return dataclasses.replace(talk, subtitles=subtitles)


def error_text(resolve_it, *args, **kw) -> str:
    with pytest.raises(SlidegrabError) as caught:
        resolve_it(*args, **kw)
    return str(caught.value)


@pytest.mark.parametrize("fixture", CATALOGUE, ids=lambda f: f.id)
def test_talk_url_gives_the_direct_clients_answer(browser, net, fixture):
    url = f"https://slideslive.com/{fixture.id}"
    expected = answer(resolve, url, net)
    assert answer(browser.resolve, url) == expected
    assert isinstance(expected, Talk) or expected is (EmbedOnlyError if fixture.embed_only else NotVodError)


@pytest.mark.parametrize("fixture", CONFERENCE, ids=lambda f: f.id)
def test_conference_page_gives_the_direct_clients_talk(browser, net, fixture):
    url = page_url(fixture.conference)
    talk = browser.resolve(url)
    assert talk == resolve(url, net)
    assert (talk.page_url, talk.speakers) == (url, fixture.conference.authors)
    assert talk.conference == fixture.conference.conference


@pytest.mark.parametrize("fixture", EMBED_ONLY, ids=lambda f: f.id)
def test_referer_unlocks_an_embed_only_embed_url(browser, net, fixture):
    url, referer = embed_url(fixture.id), page_url(fixture.conference)
    talk = browser.resolve(url, referer=referer)
    assert talk == resolve(url, net, referer=referer)
    assert talk.id == fixture.id


@pytest.mark.parametrize("fixture", EMBED_ONLY, ids=lambda f: f.id)
def test_embed_only_refusal_reads_as_the_direct_clients(browser, net, fixture):
    url = embed_url(fixture.id)
    message = error_text(browser.resolve, url)
    assert message == error_text(resolve, url, net)
    assert "--referer" in message
    assert fixture.id in message


def test_unknown_id_is_not_found_as_in_the_direct_client(browser, net):
    url = "https://slideslive.com/38999999"
    assert answer(browser.resolve, url) is NotFoundError
    assert error_text(browser.resolve, url) == error_text(resolve, url, net)


def test_the_vimeo_iframe_src_is_captured(browser):
    fixture = by_id("38925902")
    captured = browser.capture(page_url(fixture.conference))
    assert captured.extra["vimeo_src"].startswith(f"https://player.vimeo.com/video/{fixture.video_id}?")
    assert captured.parent == page_url(fixture.conference)
    assert captured.page.authors == fixture.conference.authors


def test_page_that_embeds_nothing_fails_once_it_has_settled(browser):
    started = time.monotonic()
    with pytest.raises(NoEmbedError, match="no SlidesLive talk") as caught:
        browser.resolve("https://iclr.cc/virtual_2020/about.html")
    assert time.monotonic() - started < browser.timeout / 2
    assert "iclr.cc/virtual_2020/about.html" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_page_is_one_line(browser):
    message = error_text(browser.resolve, "https://iclr.cc/virtual_2020/no-such-poster.html")
    assert "HTTP 404" in message
    assert "no-such-poster" in message
    assert "\n" not in message


@pytest.mark.parametrize("listing", LISTINGS)
def test_discover_finds_the_poster_pages_a_script_builds(browser, net, listing):
    expected = [page_url(f.conference) for f in CONFERENCE if listing_url(f.conference) == listing]
    with net.session() as session:
        assert discover(listing, session) == []  # nothing in the HTML itself
    assert browser.discover(listing) == expected


@pytest.mark.parametrize("fixture", CONFERENCE, ids=lambda f: f.id)
def test_discover_on_a_poster_page_gives_its_embed(browser, net, fixture):
    url = page_url(fixture.conference)
    with net.session() as session:
        expected = discover(url, session)
    assert browser.discover(url) == expected
    assert [parse_talk_url(u).id for u in expected] == [fixture.id]


def test_a_stalled_player_times_out_twice_naming_what_was_not_seen(replica, module_net):
    rule = replica.faults.add(host="slideslive.com", path="/player/38990101", kind="stall", seconds=6, times=2)
    try:
        with BrowserResolver(module_net, timeout=2) as quick:
            message = error_text(quick.resolve, PLAIN)
    finally:
        replica.faults.remove(rule)
    assert rule.fired == 2  # the page was loaded once more before giving up
    assert "player response" in message
    assert "2 s" in message
    assert "38990101" in message
    assert "\n" not in message


@pytest.mark.parametrize("path", ["/embed/presentation/38990101", "/player/38990101"], ids=["page", "player"])
def test_a_page_that_hangs_once_is_loaded_again_in_a_new_browser(replica, module_net, net, path):
    """A page (or the request its player waits for) that never finishes: the browser is replaced, the page
    loaded once more, and the talk comes out as if nothing had happened."""
    rule = replica.faults.add(host="slideslive.com", path=path, kind="stall", seconds=8, times=1)
    try:
        with BrowserResolver(module_net, timeout=2) as quick:
            quick.resolve("https://slideslive.com/38925901")  # a browser, warm
            first = quick.processes()
            talk = quick.resolve(PLAIN)
            assert quick.processes()[0] != first[0]
    finally:
        replica.faults.remove(rule)
    assert rule.fired == 1
    assert talk == resolve(PLAIN, net)
    assert _alive(first) == []


def test_a_request_that_failed_on_the_page_is_retried_by_loading_it_again(replica, browser, net):
    rule = replica.faults.add(host="s.slideslive.com", path="/38990101/*", status=503, times=1)
    try:
        talk = browser.resolve(PLAIN)
    finally:
        replica.faults.remove(rule)
    assert rule.fired == 1
    assert talk == resolve(PLAIN, net)


def test_a_killed_browser_is_restarted(browser, net):
    expected = resolve(PLAIN, net)
    assert browser.resolve(PLAIN) == expected
    before = browser.processes()
    chromium = next(pid for pid in before if _parent(pid) == before[0] and "chrom" in _name(pid))
    os.kill(chromium, signal.SIGKILL)
    assert browser.resolve(PLAIN) == expected
    assert browser.processes()[0] != before[0]
    assert _alive(before) == []


def test_a_hung_browser_is_restarted_once_then_reported(module_net, monkeypatch):
    monkeypatch.setattr(chromium, "SCRIPT_TIMEOUT_S", 1)
    hang = "data:text/html,<p>busy</p><script>while (true) {}</script>"
    with BrowserResolver(module_net, timeout=2) as resolver:
        with pytest.raises(BrowserError, match="stopped responding"):
            resolver.resolve(hang)
        assert resolver.processes() == []  # the hung one is gone; the next page starts a fresh browser
        assert resolver.resolve(PLAIN).id == "38990101"


def test_close_leaves_no_process_behind_even_after_an_error(module_net):
    started, profile = [], None

    def resolve_then_fail() -> None:
        nonlocal profile
        with BrowserResolver(module_net) as resolver:
            resolver.resolve(PLAIN)
            started.extend(resolver.processes())
            profile = _profile(started)
            resolver.resolve("https://slideslive.com/38999999")

    with pytest.raises(NotFoundError):
        resolve_then_fail()
    assert len(started) > 2
    assert _alive(started) == []
    assert not profile.exists()


def test_a_missing_chromium_is_a_browser_error(module_net, monkeypatch):
    monkeypatch.setenv("SLIDEGRAB_CHROMIUM", "/nonexistent/chromium")
    with BrowserResolver(module_net) as resolver, pytest.raises(BrowserError, match="/nonexistent/chromium"):
        resolver.resolve(PLAIN)


# Processes, read from /proc (psutil is not a dependency): live means present and not a zombie.


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if (fields := _stat(pid)) is not None and fields[0] != "Z"]


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _profile(pids: list[int]) -> Path:
    """The --user-data-dir Chromium was started with."""
    for pid in pids:
        for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
            if arg.startswith(b"--user-data-dir="):
                return Path(arg.split(b"=", 1)[1].decode())
    raise AssertionError("no Chromium process names a profile")
