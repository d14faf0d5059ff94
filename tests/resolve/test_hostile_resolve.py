"""Hostile site data at resolve time: URLs off the public web, redirects into the local network, bodies without
end, JSON and XML nested past the stack, HTML built to make parsers crawl. Each ends in one clear line (a
ResolveError), never an internal error, a hang, or a request anywhere but the replica's public hosts.

Hostile responses are the replica's real ones with one thing changed, served by its fault rules.
"""

from __future__ import annotations

import io
import json
import time

import pytest
import requests

from slidegrab.errors import NetworkError, SiteChangedError, UnsafeContentError
from slidegrab.replica.fixtures import by_id
from slidegrab.replica.sites import documents
from slidegrab.resolve import resolve
from slidegrab.resolve.conference import find_embeds, page_meta
from slidegrab.resolve.media import vimeo_duration
from slidegrab.resolve.pagescan import scan_page
from slidegrab.resolve.player import parse_subtitles
from slidegrab.resolve.slides import parse_clip_hosts, parse_slides_json, parse_slides_xml
from slidegrab.safety import MiB, checked_url, read_body, refuse_unsafe_redirect

TALK = by_id("38990101")  # yoda, JSON timings on s.slideslive.com, Bunny CDN images
URL = "https://slideslive.com/38990101"
LOCAL = [
    "http://127.0.0.1:8080/x",
    "http://localhost/x",
    "http://localhost./x",
    "http://a.localhost/x",
    "http://[::1]:631/",
    "http://0.0.0.0:9/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://10.1.2.3/",
    "http://192.168.0.1/admin",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",
    "http://127.1/",
    "http://[::ffff:127.0.0.1]/",
    "https://slideslive.com@127.0.0.1/x",  # user info before the real host
]
NOT_WEB = ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://slideslive.com/x", "//x.org/"]
JUNK = ["https://slideslive.com/a b", "https://x.org\\@127.0.0.1/", "https://slideslive.com/\x1b[2J", "https://"]


@pytest.fixture
def faults(replica):
    """Add fault rules that are gone after the test (the replica is shared by the whole session)."""
    added = []

    def add(**kw):
        added.append(replica.faults.add(**kw))
        return added[-1]

    yield add
    for rule in added:
        replica.faults.remove(rule)


def player_with(fixture=TALK, **tags: str) -> bytes:
    """The talk's real player response with some tags replaced (or added)."""
    lines = documents.player_body(fixture).split("\n")
    for tag, value in tags.items():
        key = f"#EXT-SL-{tag.replace('_', '-')}:"
        lines = [line for line in lines if not line.startswith(key)] + [key + value]
    return "\n".join(lines).encode()


def one_line(error: Exception) -> bool:
    return "\n" not in str(error) and "\x1b" not in str(error)


def refused(net, match: str, url: str = URL) -> UnsafeContentError:
    with pytest.raises(UnsafeContentError, match=match) as caught:
        resolve(url, net)
    assert one_line(caught.value)
    return caught.value


# -- the one check --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", LOCAL + NOT_WEB + JUNK)
def test_checked_url_refuses_what_is_not_the_public_web(url):
    with pytest.raises(UnsafeContentError, match="talk 1: the field is .*; refused") as caught:
        checked_url(url, "talk 1: the field")
    assert one_line(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://slideslive.com/38990101",
        "http://s.slideslive.com/38990101/v3/slides.json?1650713664",
        "https://1159783934.rsc.cdn77.org/oHAAFl-q6gQx/master.m3u8",
        "https://8.8.8.8/x",
        "https://[2606:4700::1111]/x",
        "https://slideslive-video-subtitles.s3.amazonaws.com/1/subtitles.vtt?X-Amz-Date=1&a=%2F..%2F",
    ],
)
def test_checked_url_keeps_public_urls(url):
    assert checked_url(url, "talk 1: the field") == url


def test_the_redirect_hook_refuses_only_moves_off_the_public_web():
    def redirect(source: str, location: str) -> requests.Response:
        response = requests.Response()
        response.status_code, response.url, response.headers["Location"] = 302, source, location
        response.raw = io.BytesIO(b"")  # what the hook closes before it refuses
        return response

    assert refuse_unsafe_redirect(redirect("https://slideslive.com/a", "https://s.slideslive.com/b")).status_code
    assert refuse_unsafe_redirect(redirect("http://localhost:8000/a", "http://127.0.0.1:8000/b")).status_code
    for source, location in [
        ("https://slideslive.com/a", "http://127.0.0.1:9/"),
        ("https://slideslive.com/a", "//169.254.169.254/latest"),
        ("http://localhost:8000/a", "file:///etc/passwd"),
    ]:
        with pytest.raises(UnsafeContentError, match="a redirect from .* refused"):
            refuse_unsafe_redirect(redirect(source, location))


# -- hostile player responses, through the replica ------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        ({"VOD_SLIDES_JSON_URL": "file:///etc/passwd"}, "#EXT-SL-VOD-SLIDES-JSON-URL"),
        ({"VOD_SLIDES_JSON_URL": "http://2130706433/38990101/slides.json"}, "#EXT-SL-VOD-SLIDES-JSON-URL"),
        ({"VOD_SLIDES_XML_URL": "http://127.0.0.1:8080/38990101.xml"}, "#EXT-SL-VOD-SLIDES-XML-URL"),
        ({"PRESENTATION_THUMBNAIL": "javascript:alert(1)"}, "#EXT-SL-PRESENTATION-THUMBNAIL"),
        ({"VOD_VIDEO_SERVERS": '["localhost:9"]'}, "#EXT-SL-VOD-VIDEO-SERVERS"),
        ({"VOD_VIDEO_SERVERS": '["slideslive.com@169.254.169.254"]'}, "#EXT-SL-VOD-VIDEO-SERVERS"),
        ({"VOD_VIDEO_SERVICE_NAME": "url", "VOD_VIDEO_ID": "http://[::1]:8080/v.mp4"}, "#EXT-SL-VOD-VIDEO-ID"),
        ({"VOD_VIDEO_SERVICE_NAME": "url", "VOD_VIDEO_ID": "file:///etc/passwd"}, "#EXT-SL-VOD-VIDEO-ID"),
        ({"VOD_SUBTITLES": json.dumps([{"webvtt_url": "http://0.0.0.0:9/x.vtt"}])}, "#EXT-SL-VOD-SUBTITLES\\[0\\]"),
    ],
)
def test_player_urls_off_the_public_web_are_refused_before_any_request(replica, net, faults, tags, field):
    faults(host="slideslive.com", path="/player/38990101", status=200, body=player_with(**tags))
    replica.log.clear()
    error = refused(net, f"talk 38990101: {field}.* is .*refused")
    assert error.code == 4
    hosts = {entry.host for entry in replica.log.entries}
    assert hosts <= {"slideslive.com", "s.slideslive.com", "1159783934.rsc.cdn77.org"}, hosts


def test_a_slides_host_on_loopback_is_refused(net, faults):
    page = '<div data-player-token="t"></div><script>gon.hosts={slideslive_on_the_fly_resized_slides_host:"127.0.0.1"}'
    faults(host="slideslive.com", path="/embed/presentation/38990101", status=200, body=page.encode())
    faults(host="slideslive.com", path="/player/38990101", status=200, body=player_with())
    refused(net, "talk 38990101: slide 1's image URL is a URL to this machine")


def test_a_clip_host_on_loopback_is_refused(net, faults):
    data = {clip: {"video_servers": ["localhost"]} for clip in ("vsl1Qm3Xa9Bz", "vsl2Pn7Yc4Dw")}
    path = "/player/38979606/slides_video_service_data"
    faults(host="slideslive.com", path=path, status=200, body=json.dumps(data).encode())
    refused(net, "talk 38979606: video slide 2's clip URL is a URL to this machine", "https://slideslive.com/38979606")


def test_an_hls_variant_on_loopback_is_refused(replica, net, faults):
    master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nhttp://127.0.0.1:9/v.m3u8\n"
    faults(host="*.rsc.cdn77.org", path="*/master.m3u8", status=200, body=master)
    refused(net, "talk 38990101: the HLS master playlist's first variant is a URL to this machine")


# -- redirects ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:9/slides.json",
        "https://[::1]/slides.json",
        "https://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://slideslive.com/slides.json",
    ],
)
def test_redirects_off_the_public_web_are_refused(replica, net, faults, location):
    faults(host="s.slideslive.com", path="/38990101/*/slides.json", kind="redirect", location=location)
    error = refused(net, "the slides JSON: a redirect from https://s.slideslive.com/38990101/v3/slides.json.* is")
    assert location in str(error)


def test_the_embed_page_redirecting_to_loopback_is_refused(net, faults):
    faults(host="slideslive.com", path="/embed/presentation/38990101", kind="redirect", location="http://localhost/")
    refused(net, "the embed page: a redirect .* is a URL to this machine")


def test_redirects_between_public_hosts_are_still_followed(replica, net, faults):
    moved = "https://slides.slideslive.com/38990101/v3/slides.json"
    faults(host="s.slideslive.com", path="/38990101/*/slides.json", kind="redirect", location=moved, times=1)
    replica.log.clear()
    talk = resolve(URL, net)
    assert len(talk.slides) == len(TALK.slides)
    assert replica.log.count(host="slides.slideslive.com", path="/38990101/v3/slides.json") == 1


# -- bodies without end ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "path", "what"),
    [
        ("slideslive.com", "/player/38990101", "player response"),
        ("slideslive.com", "/embed/presentation/38990101", "embed page"),
        ("s.slideslive.com", "/38990101/*/slides.json", "slides JSON"),
    ],
)
def test_a_body_without_end_is_cut_at_its_cap(net, faults, host, path, what):
    faults(host=host, path=path, kind="endless", status=200)
    started = time.monotonic()
    refused(net, f"the {what}: the response is larger than 8 MiB")
    assert time.monotonic() - started < 60


def test_a_body_declared_too_large_is_refused_before_it_is_read(replica, net, faults):
    faults(host="slideslive.com", path="/player/38990101", status=200, body=b"#EXTM3U\n" + b"#" * (9 * MiB))
    refused(net, "the player response: the response is larger than 8 MiB")


def test_a_body_that_drips_meets_its_deadline(net, faults):
    faults(host="s.slideslive.com", path="/drip", kind="endless", status=200, body=b"x", pause=0.2)
    with net.session() as session:
        response = session.get("https://s.slideslive.com/drip", stream=True)
        started = time.monotonic()
        with pytest.raises(NetworkError, match="did not arrive within 1 s"):
            read_body(response, 100 * MiB, seconds=1.0)
    assert time.monotonic() - started < 10


# -- nesting past the stack -----------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "parse",
    [
        lambda: parse_slides_json(DEEP, "1"),
        lambda: parse_slides_json('{"slides": ' + DEEP + "}", "1"),
        lambda: parse_clip_hosts('{"a": ' + DEEP + "}", "1"),
        lambda: parse_subtitles({"VOD-SUBTITLES": "[" * 1000 + "]" * 1000}, "1"),
        lambda: parse_subtitles({"VOD-SUBTITLES": DEEP}, "1"),
        lambda: vimeo_duration("var playerConfig = " + '{"a":' * 100_000, "https://player.vimeo.com/video/1", "1"),
    ],
)
def test_json_nested_past_the_stack_is_a_site_change(parse):
    with pytest.raises(SiteChangedError, match="talk 1: ") as caught:
        parse()
    assert len(str(caught.value)) < 400


def test_a_deep_slides_json_through_the_replica(net, faults):
    faults(host="s.slideslive.com", path="/38990101/*/slides.json", status=200, body=DEEP.encode())
    with pytest.raises(SiteChangedError, match="talk 38990101: slides.json is not JSON .*recursion"):
        resolve(URL, net)


def test_deep_video_servers_in_the_player_response(net, faults):
    faults(host="slideslive.com", path="/player/38990101", status=200, body=player_with(VOD_VIDEO_SERVERS=DEEP))
    with pytest.raises(SiteChangedError, match="#EXT-SL-VOD-VIDEO-SERVERS is not a JSON list"):
        resolve(URL, net)


def test_xml_bombs_and_depths():
    laughs = '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    with pytest.raises(SiteChangedError, match="slides XML is not XML"):
        parse_slides_xml(laughs + "]><videoContent><slide><slideName>&j;</slideName></slide></videoContent>", "1")
    external = '<!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]><videoContent><slide><time>0</time>'
    with pytest.raises(SiteChangedError, match="slides XML is not XML"):
        parse_slides_xml(external + "<slideName>&x;</slideName></slide></videoContent>", "1")
    deep = "<videoContent>" + "<a>" * 200_000 + "</a>" * 200_000 + "</videoContent>"
    assert parse_slides_xml(deep, "1") == []
    with pytest.raises(SiteChangedError, match="root <a>"):
        parse_slides_xml("<a>" * 200_000 + "</a>" * 200_000, "1")


# -- pages built to make parsers crawl ------------------------------------------------------------------


@pytest.mark.parametrize(
    "piece", ["<a ", '<meta content="', '<a b="', "<iframe ", '<iframe "', "new SlidesLiveEmbed(", "<![", "<x y z "]
)
def test_hostile_html_is_read_in_linear_time(piece):
    html = '<meta name="title" content="Kept">' + piece * (400_000 // len(piece))
    started = time.monotonic()
    assert find_embeds(html, "https://conf.example.org/p") == []
    assert page_meta(html, "https://conf.example.org/p").title is None  # not a citation_title
    assert scan_page(html).meta("title") == "Kept"
    assert time.monotonic() - started < 10  # Python 3.11's HTMLParser.close() took minutes on 60 KB


def test_embeds_are_still_found_beside_the_hostile_parts():
    html = (
        '<iframe title="a > b" src="https://slideslive.com/embed/presentation/38990101"></iframe>'
        "<script>new SlidesLiveEmbed('p', {presentationId: '38925901'}); new SlidesLiveEmbed(</script>"
        + "<iframe "
        * 1000
    )
    found = find_embeds(html, "https://conf.example.org/p")
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in found] == ["38990101", "38925901"]
