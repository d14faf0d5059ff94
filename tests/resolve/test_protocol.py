"""The direct resolver, the conference-page resolver and the orchestrator, against the real replica."""

from __future__ import annotations

import contextlib
import dataclasses
import io

import pytest
from PIL import Image

from slidegrab.errors import EmbedOnlyError, NotFoundError, NotVodError, ResolveError, SiteChangedError
from slidegrab.net import NetConfig
from slidegrab.replica import Replica
from slidegrab.replica.fixtures import CATALOGUE, by_id
from slidegrab.resolve import resolve
from slidegrab.resolve.conference import NoEmbedError, discover, resolve_page
from slidegrab.resolve.protocol import capture, fetch_embed_page, resolve_direct
from slidegrab.urls import embed_url

VOD = [f for f in CATALOGUE if f.playlist_type == "vod"]
PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}


@contextlib.contextmanager
def player_fault(replica, status: int):
    """The next /player/38990101 answer is ``status`` with a short body that is not #EXTM3U."""
    rule = replica.faults.add(host="slideslive.com", path="/player/38990101", status=status, times=1)
    try:
        yield rule
    finally:
        replica.faults.remove(rule)


@pytest.fixture
def session(net):
    with net.session() as s:
        yield s


def page_url(f) -> str:
    return f"https://{f.conference.host}{f.conference.path}"


def parent_of(f) -> str | None:
    """What a user would give as --referer for an embed-only talk: the page that embeds it."""
    return page_url(f) if f.embed_only else None


def expected_slides(f):
    """(start seconds, ext) per slide as the site publishes them; the XML lists image slides only."""
    xml_only = f.timings == "xml" or (f.timings == "both" and f.json_status != 200)
    slides = [s for s in f.slides if not (xml_only and s.kind == "video")]
    return [(s.time_ms / 1000, "" if s.kind == "video" else s.ext) for s in slides]


@pytest.mark.parametrize("fixture", VOD, ids=lambda f: f.id)
def test_every_catalogue_talk_resolves(fixture, replica, session):
    f = fixture
    talk = resolve_direct(f"https://slideslive.com/{f.id}", session, referer=parent_of(f))
    assert (talk.id, talk.url) == (f.id, f"https://slideslive.com/{f.id}")
    assert talk.title == " ".join(f.title.split())
    assert [(s.start, s.ext) for s in talk.slides] == expected_slides(f)
    assert [s.index for s in talk.slides] == list(range(1, len(talk.slides) + 1))
    assert talk.media.service == f.service
    assert talk.start_offset == f.start_time_ms / 1000
    assert talk.thumbnail
    assert talk.updated_at
    if f.service in ("yoda", "vimeo"):  # HLS sums segments exactly; Vimeo's playerConfig gives whole seconds
        assert talk.duration == pytest.approx(
            replica.app.media(f).duration, abs=0.05 if f.service == "yoda" else 0.5
        )
    else:
        assert talk.duration is None


@pytest.mark.parametrize("fixture", VOD, ids=lambda f: f.id)
def test_slide_images_are_where_the_urls_say(fixture, session):
    talk = resolve_direct(f"https://slideslive.com/{fixture.id}", session, referer=parent_of(fixture))
    images = [s for s in talk.slides if s.image_url]
    for slide in {id(s): s for s in (images[0], images[-1])}.values():
        response = session.get(slide.image_url)
        assert response.status_code == 200, slide.image_url
        assert Image.open(io.BytesIO(response.content)).format == PIL_FORMATS[slide.ext]


def test_yoda_media_and_video_slides(session):
    talk = resolve_direct("https://slideslive.com/38979606", session)
    assert talk.media.url.startswith("https://1159783934.rsc.cdn77.org/")  # only VOD-VIDEO-SERVERS[0]
    assert session.get(talk.media.url).text.startswith("#EXTM3U")
    clips = [s for s in talk.slides if s.kind == "video"]
    assert [(c.image_url, c.video.id, c.video.duration) for c in clips] == [
        (None, "vsl1Qm3Xa9Bz", 3.0),
        (None, "vsl2Pn7Yc4Dw", 4.0),
    ]
    for clip in clips:
        assert session.get(clip.video.url).text.startswith("#EXTM3U")


def test_json_refused_falls_back_to_xml_and_xml_is_not_asked_when_json_works(replica, session):
    replica.log.clear()
    talk = resolve_direct("https://slideslive.com/38925901", session)
    assert (
        talk.slides[0].image_url
        == "https://cdn.slideslive.com/data/presentations/38925901/slides/big/0-0001.jpg"
    )
    assert replica.log.count(path="/38925901/v2/38925901.xml") == 1
    resolve_direct("https://slideslive.com/38980107", session)  # its XML would be an S3 <Error>
    assert replica.log.count(path="/38980107/*.xml") == 0


def test_subtitles_and_legacy_hosts(session):
    talk = resolve_direct("https://slideslive.com/38956513", session)
    assert [(s.language, s.name) for s in talk.subtitles] == [("en", "English")]
    assert session.get(talk.subtitles[0].url).text.startswith("WEBVTT")
    talk = resolve_direct("https://slideslive.com/38912014", session)
    assert (
        talk.slides[0].image_url
        == "https://cdn.slideslive.com/data/presentations/38912014/slides/big/00001.jpg"
    )
    talk = resolve_direct("https://slideslive.com/38975015", session)
    assert talk.slides[0].image_url.startswith("https://rs.slideslive.com/38975015/slides/")
    assert talk.slides[0].image_url.endswith(".webp?h=1080&f=webp")


def test_url_and_youtube_services(session):
    talk = resolve_direct("https://slideslive.com/38922012", session)
    assert talk.media.url.startswith("https://d3b5ycxkv2bd1q.cloudfront.net/videos/38922012/")
    talk = resolve_direct("https://slideslive.com/38903716", session)
    assert (talk.media.id, talk.media.url) == ("aB3xK9_qLmZ", "https://www.youtube.com/watch?v=aB3xK9_qLmZ")


@pytest.mark.parametrize(
    ("talk_id", "says"),
    [
        (
            "38925902",
            r"talk 38925902 is embed-only; it plays only under iclr\.cc \(.*--referer https://iclr\.cc/\)",
        ),
        (
            "39021404",
            r"it plays only under icml\.cc \(give the conference page URL .*--referer https://icml\.cc/\)",
        ),
        ("39012305", r"talk 39012305 is embed-only \(.*--referer https://<allowed domain>/\)"),
    ],
)
def test_embed_only_without_its_parent(talk_id, says, session):
    for url in (f"https://slideslive.com/{talk_id}", f"https://slideslive.com/embed/presentation/{talk_id}"):
        with pytest.raises(EmbedOnlyError, match=says):
            resolve_direct(url, session)


def test_embed_only_under_a_wrong_parent_says_so(session):
    url = embed_url("39021404", "https://evil.example/page", "https://evil.example")
    with pytest.raises(
        EmbedOnlyError, match=r"embed-only \(not under evil\.example\); it plays only under icml\.cc"
    ):
        resolve_direct(url, session)


def test_embed_only_with_referer_or_parent_in_the_url(session):
    talk = resolve_direct("https://slideslive.com/39012305", session, referer="https://neurips.cc/")
    assert talk.title == "Contrastive Pretraining without Negatives"
    talk = resolve_direct(embed_url("39021404", "https://icml.cc/virtual/2024/poster/34521"), session)
    assert len(talk.slides) == 4


def test_vimeo_embed_only_gets_the_referer_vimeo_accepts(session):
    talk = resolve_direct("https://slideslive.com/38925902", session, referer="https://iclr.cc/")
    assert talk.media.url == "https://player.vimeo.com/video/401234567"
    assert talk.media.headers == {"Referer": "https://iclr.cc/"}
    assert talk.duration is not None
    refused = session.get(talk.media.url, headers={"Referer": "https://elsewhere.example/"})
    assert refused.status_code == 403  # so the header is what makes it work


def test_vimeo_that_refuses_every_referer_we_know(replica, net):
    private = dataclasses.replace(by_id("38925902"), vimeo_referers=("videos.example",))
    with Replica(cache_dir=replica.cache_dir, catalogue=[private]) as other:
        config = NetConfig(proxy=other.proxy_url, ca_bundle=other.ca_path, retries=1, backoff=0.05)
        with config.session() as s, pytest.raises(EmbedOnlyError, match=r"Vimeo video .*--referer"):
            resolve_direct("https://slideslive.com/38925902", s, referer="https://iclr.cc/")
        assert other.log.count(host="player.vimeo.com") == 2  # the parent page, then slideslive.com
        assert other.escapes == []


def test_not_vod(session):
    with pytest.raises(
        NotVodError, match=r"talk 39030011 is live or not yet processed \(playlist type live\)"
    ):
        resolve_direct("https://slideslive.com/39030011", session)


def test_unknown_id(session):
    with pytest.raises(
        NotFoundError, match=r"no SlidesLive talk with id 38999999 \(HTTP 404\); check the URL"
    ):
        resolve_direct("https://slideslive.com/38999999/some-slug", session)


def test_expired_player_token(replica, session):
    html, url = fetch_embed_page(session, "38990101", None, None)
    replica.app.time_shift += 3 * 3600
    try:
        with pytest.raises(ResolveError, match=r"talk 38990101: player token refused \(expired\?\)"):
            capture(session, "38990101", html, url)
    finally:
        replica.app.time_shift -= 3 * 3600


def test_transient_player_errors_are_retried(replica, session):
    with player_fault(replica, 503) as rule:
        assert resolve_direct("https://slideslive.com/38990101", session).id == "38990101"
    assert rule.fired == 1


def test_a_player_that_is_not_extm3u_is_a_site_change(replica, session):
    with (
        player_fault(replica, 200),
        pytest.raises(SiteChangedError, match="the player response is not an #EXTM3U"),
    ):
        resolve_direct("https://slideslive.com/38990101", session)


# Conference pages ---------------------------------------------------------------------------------

WITH_PAGES = [f for f in VOD if f.conference]


@pytest.mark.parametrize("fixture", WITH_PAGES, ids=lambda f: f.id)
def test_conference_page_resolves_with_its_metadata(fixture, session):
    f = fixture
    talk = resolve_page(page_url(f), session)
    assert talk.id == f.id
    assert talk.speakers == f.conference.authors
    assert talk.conference == f.conference.conference
    assert talk.page_url == page_url(f)
    assert len(talk.slides) == len(expected_slides(f))


@pytest.mark.parametrize("fixture", WITH_PAGES, ids=lambda f: f.id)
def test_discover_lists_the_embed(fixture, session):
    [url] = discover(page_url(fixture), session)
    assert url.startswith(f"https://slideslive.com/embed/presentation/{fixture.id}?embed_parent_url=")


def test_page_without_embeds(session):
    with pytest.raises(NoEmbedError, match="embeds no SlidesLive talk"):
        resolve_page("https://iclr.cc/virtual_2020/about.html", session)


# The orchestrator ---------------------------------------------------------------------------------


class RecordingBrowser:
    """Stands in for the browser resolver only to record whether the orchestrator turned to it."""

    def __init__(self, net):
        self.net, self.calls = net, []

    def resolve(self, url, referer=None):
        self.calls.append((url, referer))
        with self.net.session() as s:
            return resolve_direct("https://slideslive.com/38990101", s)


def test_resolve_slideslive_url_and_conference_page(net):
    assert resolve("https://slideslive.com/38990101/sparse-networks", net).id == "38990101"
    page = by_id("38925902").conference
    talk = resolve(f"https://{page.host}{page.path}", net)
    assert (talk.id, talk.speakers[0]) == ("38925902", "Lena Fischer")


def test_resolve_final_errors_do_not_reach_the_browser(net):
    browser = RecordingBrowser(net)
    for url, error in [
        ("https://slideslive.com/38999999", NotFoundError),
        ("https://slideslive.com/39030011", NotVodError),
        ("https://slideslive.com/39012305", EmbedOnlyError),
    ]:
        with pytest.raises(error):
            resolve(url, net, browser=browser)
    assert browser.calls == []


def test_resolve_falls_back_to_the_browser(replica, net):
    browser = RecordingBrowser(net)
    with player_fault(replica, 200):
        assert resolve("https://slideslive.com/38990101", net, browser=browser).id == "38990101"
    assert browser.calls == [("https://slideslive.com/38990101", None)]
    page = "https://iclr.cc/virtual_2020/about.html"
    resolve(page, net, browser=browser, referer="https://iclr.cc/")
    assert browser.calls[-1] == (page, "https://iclr.cc/")


def test_resolve_page_without_embeds_and_no_browser(net):
    with pytest.raises(NoEmbedError, match="no SlidesLive talk found on this page .*without a browser"):
        resolve("https://iclr.cc/virtual_2020/about.html", net)
