"""The replica's sites, through the real proxy: SlidesLive pages and tokens, the player response, timing and
image hosts, the yoda CDN, subtitles, Vimeo, conference pages, and yt-dlp's own extractors against them."""

from __future__ import annotations

import base64
import io
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
import yt_dlp
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import CATALOGUE, by_id, estimated_duration_ms, slide_name, spoken_ms
from slidegrab.replica.sites import urls

YODA, XML_ONLY, VIMEO, ICML, SECRET_DOMAINS, VIDEO_SLIDES = "38990101", "38925901", "38925902", "39021404", \
    "39012305", "38979606"
LATE, MIXED, HOSTILE, DENSE, LIVE, URL_TALK, SUBTITLED, QUALITIES, WEBP, YOUTUBE = (
    "38980107", "38932408", "38990109", "38935710", "39030011", "38922012", "38956513", "38912014",
    "38975015", "38903716",
)
ICLR_VIMEO_PAGE = "https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html"
ICLR_XML_PAGE = "https://iclr.cc/virtual_2020/poster_B1xSperKvH.html"
MAGIC = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff", ".webp": b"RIFF"}
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}


@pytest.fixture
def http(net):
    with net.session() as s:
        yield s


@pytest.fixture
def clock(replica):
    """Move the replica's clock; put it back afterwards (the replica is shared by the whole session)."""
    before = replica.app.time_shift
    yield replica.app
    replica.app.time_shift = before


def token_of(html: str) -> str:
    return re.search(r'data-player-token="([^"]+)"', html).group(1)


def player(http, talk_id: str, **headers) -> tuple[str, str]:
    """(player token, player response text) of a talk, read the way yt-dlp does."""
    page = http.get(f"https://slideslive.com/embed/presentation/{talk_id}", headers=headers)
    assert page.status_code == 200, page.url
    token = token_of(page.text)
    response = http.get(f"https://slideslive.com/player/{talk_id}", params={"player_token": token})
    assert response.status_code == 200
    return token, response.text


def tags(body: str) -> dict[str, str]:
    return dict(line[len("#EXT-SL-") :].split(":", 1) for line in body.split("\n")[1:])


def jwt_payload(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


# -- the catalogue ------------------------------------------------------------------------------------


def test_catalogue_ids_are_unique_slideslive_style_and_found_by_id():
    ids = [f.id for f in CATALOGUE]
    assert len(set(ids)) == len(ids) >= 16
    assert all(re.fullmatch(r"(389|390)\d{5}", i) for i in ids)
    assert all(by_id(i).id == i for i in ids)
    assert by_id("38900000") is None


@pytest.mark.parametrize("fixture", CATALOGUE, ids=lambda f: f.id)
def test_every_slide_speaks_its_terms_before_the_next_slide(fixture):
    assert fixture.notes
    for this, after in zip(fixture.slides, fixture.slides[1:], strict=False):
        assert spoken_ms(this.say) <= after.time_ms - this.time_ms, this.title
    for slide in (s for s in fixture.slides if s.say):
        assert slide.title
        assert 1 <= len(slide.terms) <= 3
        assert all(term.lower() in slide.say.lower() for term in slide.terms), slide.say
    limit = 90_000 if len(fixture.slides) >= 300 else 40_000
    assert 10_000 <= estimated_duration_ms(fixture) <= limit


def test_three_demo_fixtures_cover_yoda_vimeo_on_a_conference_page_and_xml():
    demo = [f for f in CATALOGUE if "demo" in f.tags]
    assert len(demo) == 3
    assert any(f.service == "yoda" and f.timings == "json" for f in demo)
    assert any(f.service == "vimeo" and f.conference for f in demo)
    assert any(f.timings in ("xml", "both") and f.json_status != 200 for f in demo)


# -- slideslive.com pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/{YODA}", f"/{YODA}/any-slug-at-all", f"/embed/presentation/{YODA}",
                                  f"/embed/{YODA}", f"/embed/presentation/{YODA}?embed_container_origin=x"])
def test_pages_carry_token_titles_and_gon_hosts(http, path):
    page = http.get(f"https://slideslive.com{path}")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    title = by_id(YODA).title
    for needle in (f"<title>{title}</title>", f'<meta name="title" content="{title}">',
                   f'<meta property="og:title" content="{title}">',
                   f'<meta name="twitter:title" content="{title}">',
                   '"slideslive_on_the_fly_resized_slides_host":"slideslive-slides.b-cdn.net"',
                   "gon.use_bunny_cdn_for_player_image_slides = true", '<div id="player"',
                   f'data-slides-video-service-data-url="https://slideslive.com/player/{YODA}/slides_video_service_data',
                   'src="https://slideslive.com/assets/player.js"'):
        assert needle in page.text
    assert jwt_payload(token_of(page.text))["presentation_id"] == YODA


@pytest.mark.parametrize("url", [
    "https://slideslive.com/38900000", "https://slideslive.com/embed/presentation/38900000",
    "https://slideslive.com/player/38900000?player_token=x", "https://s.slideslive.com/38900000/v1/slides.json",
    "https://slideslive-slides.b-cdn.net/38900000/slides/original/00001.png",
    "https://1159783934.rsc.cdn77.org/nosuchvideo1/master.m3u8", "https://player.vimeo.com/video/1",
    "https://iclr.cc/virtual_2020/poster_nope.html", f"https://ben.slideslive.com/player/{YODA}",
])
def test_unknown_ids_and_paths_are_404(http, url):
    assert http.get(url).status_code == 404


def test_hostile_title_is_escaped_in_html_and_plain_in_the_player_response(http):
    title = by_id(HOSTILE).title
    page = http.get(f"https://slideslive.com/{HOSTILE}").text
    assert '<meta name="title" content="Ünïcödé / &quot;Quotes&quot; &amp; ../../etc/passwd' in page
    assert tags(player(http, HOSTILE)[1])["PRESENTATION-TITLE"] == title


def test_static_scripts_are_served_as_javascript(http):
    for path, needle in (("/embed_presentation.js", "window.SlidesLiveEmbed"),
                         ("/assets/player.js", "slp--liveStarted"), ("/assets/player.css", ".slp__root")):
        response = http.get(f"https://slideslive.com{path}")
        assert response.status_code == 200
        assert needle in response.text
    assert http.get("https://slideslive.com/embed_presentation.js").headers["Content-Type"].startswith("text/javascript")
    assert http.get("https://slideslive.com/assets/../app.py").status_code == 404


@pytest.mark.parametrize("method", ["POST", "GET", "PUT"])
def test_analytics_and_landing_pages_answer(http, method):
    for path in ("/player_session", "/player_session_events", "/api/player_session_events/batch"):
        response = http.request(method, f"https://slideslive.com{path}", json={"event": "play"})
        assert response.status_code == 200
        assert response.json() == {}
    assert http.get("https://slideslive.com/3rd-party-cookies").status_code == 200
    assert "icml.cc" in http.get("https://slideslive.com/domain_not_allowed?allowed_domains[]=icml.cc").text


# -- tokens ----------------------------------------------------------------------------------------------


def test_player_token_is_an_hs256_jwt_for_two_hours(http):
    token, _ = player(http, YODA)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    payload = jwt_payload(token)
    assert header == {"alg": "HS256"}
    assert payload["exp"] - payload["iat"] == 7200


def test_player_refuses_missing_malformed_forged_foreign_and_expired_tokens(http, clock):
    token, _ = player(http, YODA)
    other, _ = player(http, LATE)
    head, body, signature = token.split(".")
    forged = ".".join([head, base64.urlsafe_b64encode(b'{"presentation_id":"38990101","exp":9999999999}')
                       .rstrip(b"=").decode(), signature])
    url = f"https://slideslive.com/player/{YODA}"
    assert http.get(url).status_code == 401
    for bad in ("", "not-a-jwt", f"{head}.{body}.{signature[:-2]}AA", forged, other):
        assert http.get(url, params={"player_token": bad}).status_code == 401, bad
    assert http.get(url, params={"player_token": token}).status_code == 200
    clock.time_shift += 7201
    assert http.get(url, params={"player_token": token}).status_code == 401
    assert http.get(f"{url}/slides_video_service_data", params={"player_token": token}).status_code == 401


def test_embed_init_gives_a_36_hour_token_for_the_parent_host_with_cors(http):
    origin = "https://icml.cc"
    response = http.get("https://slideslive.com/embed/init", headers={"Origin": origin}, params={
        "embed_parent_url": "https://icml.cc/virtual/2024/poster/34521", "embed_origin": origin})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    data = response.json()
    payload = jwt_payload(data["embed_init_token"])
    assert payload["d"] == "icml.cc"
    assert payload["exp"] - payload["iat"] == 129600
    assert payload["u"] == {"uuid": data["user_uuid"], "i": None, "e": None, "m": False}
    assert http.get("https://slideslive.com/embed/init").status_code == 400


def test_embed_page_refuses_an_expired_init_token(http, clock):
    parent = "https://icml.cc/virtual/2024/poster/34521"
    init = http.get("https://slideslive.com/embed/init", params={"embed_parent_url": parent}).json()
    query = {"js_embed_version": "3", "embed_init_token": init["embed_init_token"],
             "embed_parent_url": parent}
    url = f"https://slideslive.com/embed/presentation/{ICML}"
    assert http.get(url, params=query).status_code == 200
    clock.time_shift += 36 * 3600 + 1
    assert http.get(url, params=query).status_code == 401


# -- embed-only talks -------------------------------------------------------------------------------------


def test_embed_only_talk_redirects_unless_the_parent_is_allowed(http):
    url = f"https://slideslive.com/embed/presentation/{ICML}"
    for kwargs in ({}, {"headers": {"Referer": "https://example.org/"}},
                   {"params": {"embed_parent_url": "https://evil.example/icml.cc"}}):
        response = http.get(url, allow_redirects=False, **kwargs)
        assert response.status_code == 302
        location = response.headers["Location"]
        assert "domain_not_allowed" in location
        assert "allowed_domains[]=icml.cc" in location
        assert parse_qs(urlsplit(location).query)["allowed_domains[]"] == ["icml.cc"]
    for kwargs in ({"params": {"embed_parent_url": "https://icml.cc/virtual/2024/poster/34521"}},
                   {"headers": {"Referer": "https://icml.cc/"}}, {"headers": {"Origin": "https://icml.cc"}},
                   {"headers": {"Referer": "https://www.icml.cc/x"}},
                   {"params": {"embed_container_origin": "https://icml.cc"}}):
        assert http.get(url, allow_redirects=False, **kwargs).status_code == 200, kwargs
    public = http.get(f"https://slideslive.com/{ICML}", allow_redirects=False)
    assert public.status_code == 302
    assert "domain_not_allowed" in public.headers["Location"]


def test_embed_only_talk_with_secret_domains_names_none(http):
    url = f"https://slideslive.com/embed/presentation/{SECRET_DOMAINS}"
    response = http.get(url, allow_redirects=False)
    assert response.status_code == 302
    assert "domain_not_allowed" in response.headers["Location"]
    assert "allowed_domains" not in response.headers["Location"]
    assert http.get(url, headers={"Referer": "https://neurips.cc/"}, allow_redirects=False).status_code == 200
    assert http.get(url).status_code == 200  # the landing page itself


# -- the player response ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", CATALOGUE, ids=lambda f: f.id)
def test_player_response_format(http, fixture):
    parent = {"Referer": f"https://{fixture.conference.host}/"} if fixture.embed_only else {}
    _, body = player(http, fixture.id, **parent)
    lines = body.split("\n")
    assert lines[0] == "#EXTM3U"
    assert not body.endswith("\n")
    assert "\r" not in body
    assert "" not in lines
    assert all(line.startswith("#EXT-SL-") and ":" in line for line in lines[1:])
    keys = [line[len("#EXT-SL-") :].split(":", 1)[0] for line in lines[1:]]
    assert len(keys) == len(set(keys))
    found = tags(body)
    assert found["PRESENTATION-TITLE"] == fixture.title
    assert found["PLAYLIST-TYPE"] == fixture.playlist_type
    assert found["VOD-VIDEO-SERVICE-NAME"] == fixture.service
    assert found["PRESENTATION-UPDATED-AT"].startswith("2023-10-20T")
    servers = list(urls.YODA_SERVERS) if fixture.service == "yoda" else []
    assert json.loads(found["VOD-VIDEO-SERVERS"]) == servers
    assert keys.index("PRESENTATION-TITLE") < keys.index("PLAYLIST-TYPE") < keys.index("VOD-VIDEO-ID")
    if fixture.timings in ("json", "both"):
        assert re.fullmatch(rf"https://\S+/{fixture.id}/v{fixture.slides_version}/slides\.json\?\d+",
                            found["VOD-SLIDES-JSON-URL"])
    assert ("VOD-SLIDES-XML-URL" in found) == (fixture.timings in ("xml", "both"))
    assert ("VOD-SUBTITLES" in found) == fixture.subtitles


def test_player_response_values_for_special_services(http):
    assert tags(player(http, YOUTUBE)[1])["VOD-VIDEO-ID"] == "aB3xK9_qLmZ"
    assert tags(player(http, URL_TALK)[1])["VOD-VIDEO-ID"].startswith(f"https://{urls.DIRECT_FILES}/")
    assert tags(player(http, LIVE)[1])["PLAYLIST-TYPE"] == "live"
    subtitles = tags(player(http, SUBTITLED)[1])["VOD-SUBTITLES"]
    assert "&" not in subtitles
    assert "\\u0026X-Amz-Date=" in subtitles
    assert json.loads(subtitles)[0]["webvtt_url"].startswith(f"https://{urls.SUBTITLES}/")


def test_slides_video_service_data_names_the_clip_servers(http):
    token, _ = player(http, VIDEO_SLIDES)
    url = f"https://slideslive.com/player/{VIDEO_SLIDES}/slides_video_service_data"
    data = http.get(url, params={"player_token": token, "videos": "vsl1Qm3Xa9Bz,nope"}).json()
    assert list(data) == ["vsl1Qm3Xa9Bz"]
    assert data["vsl1Qm3Xa9Bz"]["video_servers"] == list(urls.YODA_SERVERS)
    assert set(http.get(url, params={"player_token": token}).json()) == {"vsl1Qm3Xa9Bz", "vsl2Pn7Yc4Dw"}


# -- timing files -----------------------------------------------------------------------------------------


def test_slides_json_carries_times_names_extnames_and_video_slides(http):
    _, body = player(http, VIDEO_SLIDES)
    deck = http.get(tags(body)["VOD-SLIDES-JSON-URL"]).json()
    fixture = by_id(VIDEO_SLIDES)
    assert [s["time"] for s in deck["slides"]] == [s.time_ms for s in fixture.slides]
    assert deck["slides"][0]["image"] == {"name": slide_name(fixture, 0), "extname": ".png"}
    assert deck["slides"][1]["type"] == "video"
    assert "image" not in deck["slides"][1]
    assert deck["slides"][1]["video"]["id"] == "vsl1Qm3Xa9Bz"
    assert deck["slides"][1]["video"]["duration_ms"] == 3000
    mixed = http.get(tags(player(http, MIXED)[1])["VOD-SLIDES-JSON-URL"]).json()
    assert [s["image"]["extname"] for s in mixed["slides"]] == [".jpg", ".png", ".jpg", ".png"]


def test_xml_only_deck_json_is_access_denied_and_xml_works(http):
    found = tags(player(http, XML_ONLY)[1])
    denied = http.get(found["VOD-SLIDES-JSON-URL"])
    assert denied.status_code == 403
    assert "Access Denied" in denied.text
    deck = ET.fromstring(http.get(found["VOD-SLIDES-XML-URL"]).content)
    assert deck.tag == "videoContent"
    first = deck.find("slide")
    assert [c.tag for c in first] == ["orderId", "timeSec", "time", "slideName"]
    assert first.findtext("slideName") == "0-0001"
    assert first.findtext("orderId") == "1"


def test_json_deck_xml_is_an_s3_error_and_legacy_hosts_work(http):
    error = http.get(tags(player(http, LATE)[1])["VOD-SLIDES-XML-URL"])
    assert error.status_code == 403
    assert ET.fromstring(error.content).tag == "Error"
    legacy = tags(player(http, QUALITIES)[1])["VOD-SLIDES-JSON-URL"]
    assert legacy.startswith(f"https://cdn.slideslive.com/data/presentations/{QUALITIES}/v1/slides.json?")
    assert http.get(legacy).json()["slide_qualities"] == ["big", "medium"]
    for url in (f"https://d2ygwrecguqg66.cloudfront.net/data/presentations/{QUALITIES}/slides.json",
                f"https://slides.slideslive.com/{XML_ONLY}/v2/{XML_ONLY}.xml",
                f"https://s.slideslive.com/{XML_ONLY}/{XML_ONLY}.xml?123"):
        assert http.get(url).status_code == 200, url
    assert http.get(f"https://s.slideslive.com/{YODA}/v9/slides.json").status_code == 404
    assert http.get(f"https://s.slideslive.com/data/presentations/{YODA}/v3/slides.json").status_code == 404


# -- slide images -----------------------------------------------------------------------------------------


def image_of(response, ext: str) -> Image.Image:
    assert response.status_code == 200, response.url
    assert response.headers["Content-Type"] == CONTENT_TYPES[ext]
    assert response.content.startswith(MAGIC[ext])
    return Image.open(io.BytesIO(response.content))


def test_original_images_are_the_fixture_files_on_slides_and_bunny_hosts(http, replica):
    fixture = by_id(MIXED)
    media = replica.app.media(fixture)
    for index, slide in enumerate(fixture.slides):
        name = slide_name(fixture, index) + slide.ext
        for url in (f"https://slides.slideslive.com/{MIXED}/slides/original/{name}",
                    f"https://slideslive-slides.b-cdn.net/{MIXED}/slides/original/{name}"):
            response = http.get(url)
            image_of(response, slide.ext)
            assert response.content == media.slide_image(index + 1).read_bytes()
        wrong = ".png" if slide.ext == ".jpg" else ".jpg"
        wrong_name = slide_name(fixture, index) + wrong
        missing = http.get(f"https://slides.slideslive.com/{MIXED}/slides/original/{wrong_name}")
        assert missing.status_code == 404


def test_bunny_accepts_numeric_classes_only(http):
    base = f"https://slideslive-slides.b-cdn.net/{YODA}/slides/original/{slide_name(by_id(YODA), 0)}.png"
    assert http.get(base, params={"class": "big"}).status_code == 403
    assert image_of(http.get(base, params={"class": "180"}), ".png").size == (320, 180)
    assert image_of(http.get(base, params={"class": "1080"}), ".png").size == (640, 360)


def test_resizer_honours_height_and_format(http):
    name = slide_name(by_id(WEBP), 0)
    url = f"https://rs.slideslive.com/{WEBP}/slides/{name}.webp"
    small = http.get(url, params={"h": "180", "f": "webp", "s": "lambda", "accelerate_s3": "1"})
    assert image_of(small, ".webp").size == (320, 180)
    assert image_of(http.get(url, params={"h": "1080", "f": "png"}), ".png").size == (640, 360)
    assert image_of(http.get(url), ".webp").size == (640, 360)
    assert http.get(url, params={"f": "gif"}).status_code == 400
    assert http.get(f"https://rs.slideslive.com/{WEBP}/slides/{name}.png").status_code == 404


def test_legacy_jpg_images_for_xml_and_slide_qualities_decks(http):
    xml_name = slide_name(by_id(XML_ONLY), 1)
    big = f"https://cdn.slideslive.com/data/presentations/{XML_ONLY}/slides/big/{xml_name}.jpg"
    assert image_of(http.get(big), ".jpg").size == (1024, 576)
    assert image_of(http.get(big.replace("cdn.slideslive.com", "d2ygwrecguqg66.cloudfront.net")), ".jpg")
    assert image_of(http.get(f"https://slides.slideslive.com/{XML_ONLY}/slides/big/{xml_name}.jpg"), ".jpg")
    medium = f"https://cdn.slideslive.com/data/presentations/{QUALITIES}/slides/medium/00001.jpg"
    assert image_of(http.get(medium), ".jpg").size == (640, 360)
    assert http.get(f"https://cdn.slideslive.com/data/presentations/{YODA}/slides/big/"
                    f"{slide_name(by_id(YODA), 0)}.png").status_code == 404


def test_thumbnails_are_jpgs(http):
    fixture = by_id(YODA)
    image_of(http.get(urls.thumbnail_url(fixture)), ".jpg")
    image_of(http.get(urls.legacy_cover_url(fixture)), ".jpg")
    assert http.get(urls.thumbnail_url(fixture).replace("_big.jpg", "x_big.jpg")).status_code == 404


# -- video, files, subtitles ------------------------------------------------------------------------------


def test_yoda_cdn_serves_hls_and_dash_on_both_servers(http, replica):
    video_id = tags(player(http, YODA)[1])["VOD-VIDEO-ID"]
    for server in urls.YODA_SERVERS:
        master = http.get(f"https://{server}/{video_id}/master.m3u8")
        assert master.status_code == 200
        assert master.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert "TYPE=AUDIO" in master.text
        assert master.text.count("#EXT-X-STREAM-INF") >= 2
    media = http.get(f"https://{urls.YODA_SERVERS[0]}/{video_id}/media_0.m3u8").text
    assert "#EXT-X-MAP" in media
    assert "#EXT-X-ENDLIST" in media
    mpd = http.get(f"https://{urls.YODA_SERVERS[1]}/{video_id}/master.mpd")
    assert mpd.headers["Content-Type"] == "application/dash+xml"
    assert "mediaPresentationDuration" in mpd.text
    assert http.get(f"https://{urls.YODA_SERVERS[0]}/{video_id}/..%2Fmedia.json").status_code == 404
    clip = http.get(f"https://{urls.YODA_SERVERS[1]}/vsl2Pn7Yc4Dw/master.m3u8")
    assert clip.status_code == 200
    assert "#EXT-X-STREAM-INF" in clip.text


def test_direct_file_of_a_url_talk_supports_ranges(http):
    url = tags(player(http, URL_TALK)[1])["VOD-VIDEO-ID"]
    assert http.head(url).headers["Content-Type"] == "video/mp4"
    part = http.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert len(part.content) == 100
    assert part.content[4:8] == b"ftyp"


def test_presigned_subtitles_work_then_expire_and_resist_tampering(http, clock):
    url = json.loads(tags(player(http, SUBTITLED)[1])["VOD-SUBTITLES"])[0]["webvtt_url"]
    vtt = http.get(url)
    assert vtt.status_code == 200
    assert vtt.headers["Content-Type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert "Self-attention compares" in vtt.text
    tampered = http.get(url.replace("X-Amz-Date=2", "X-Amz-Date=1"))
    assert tampered.status_code == 403
    assert "SignatureDoesNotMatch" in tampered.text
    clock.time_shift += 86401
    expired = http.get(url)
    assert expired.status_code == 403
    assert "Request has expired" in expired.text


# -- Vimeo ------------------------------------------------------------------------------------------------


def vimeo_config(html: str) -> dict:
    return json.loads(re.search(r"window\.playerConfig = (\{.*\});</script>", html).group(1))


@pytest.mark.parametrize("referer", [None, "https://example.org/", "https://notslideslive.com/"])
def test_vimeo_refuses_other_referers(http, referer):
    headers = {"Referer": referer} if referer else {}
    response = http.get("https://player.vimeo.com/video/401234567", headers=headers)
    assert response.status_code == 403
    assert "Because of its privacy settings, this video cannot be played here" in response.text


@pytest.mark.parametrize("referer", ["https://slideslive.com/embed/presentation/38925902", ICLR_VIMEO_PAGE])
def test_vimeo_player_config_for_allowed_referers(http, replica, referer):
    response = http.get("https://player.vimeo.com/video/401234567", headers={"Referer": referer})
    assert response.status_code == 200
    config = vimeo_config(response.text)
    video, files = config["video"], config["request"]["files"]
    assert video["id"] == 401234567
    assert video["title"] == by_id(VIMEO).title
    assert video["owner"]["name"]
    assert video["duration"] == round(replica.app.media(by_id(VIMEO)).duration)
    progressive = files["progressive"][0]
    assert {"url", "quality", "width", "height", "fps"} <= set(progressive)
    mp4 = http.get(progressive["url"], headers={"Range": "bytes=0-15"})
    assert mp4.status_code == 206
    assert mp4.content[4:8] == b"ftyp"
    hls = files["hls"]["cdns"][files["hls"]["default_cdn"]]["url"]
    assert "TYPE=AUDIO" in http.get(hls).text
    assert http.get(next(iter(video["thumbs"].values()))).headers["Content-Type"] == "image/jpeg"


# -- conference sites -------------------------------------------------------------------------------------


def test_miniconf_poster_page_has_citation_metas_and_the_embed_snippet(http):
    page = http.get(ICLR_VIMEO_PAGE).text
    conference = by_id(VIMEO).conference
    assert f'<meta name="citation_title" content="{by_id(VIMEO).title}">' in page
    assert re.findall(r'<meta name="citation_author" content="([^"]+)">', page) == list(conference.authors)
    for name in ("citation_publication_date", "citation_abstract", "citation_pdf_url"):
        assert f'<meta name="{name}" content="' in page
    assert '<meta name="citation_conference_title" content="ICLR 2020">' in page
    assert '<script src="https://slideslive.com/embed_presentation.js"></script>' in page
    snippet = rf'new SlidesLiveEmbed\("presentation-embed", \{{\n\s*presentationId: "{VIMEO}",\n'
    assert re.search(snippet, page)


def test_virtual_and_iframe_poster_pages(http):
    virtual = http.get("https://icml.cc/virtual/2024/poster/34521").text
    assert f"presentationId: '{ICML}'," in virtual
    assert "new SlidesLiveEmbed('presentation-embed-" in virtual
    assert '<meta name="citation_conference_title" content="ICML 2024">' in virtual
    framed = http.get("https://neurips.cc/virtual/2023/poster/71456").text
    src = re.search(r'<iframe src="([^"]+)"', framed).group(1).replace("&amp;", "&")
    assert src.startswith(f"https://slideslive.com/embed/presentation/{SECRET_DOMAINS}?")
    assert "SlidesLiveEmbed" not in framed
    assert http.get(src, allow_redirects=False).status_code == 200


@pytest.mark.parametrize("listing", ["https://iclr.cc/virtual_2020/papers.html",
                                     "https://icml.cc/virtual/2024/papers.html",
                                     "https://neurips.cc/virtual/2023/papers.html"])
def test_listing_pages_have_no_links_until_their_script_runs(http, listing):
    page = http.get(listing)
    assert page.status_code == 200
    assert "<a" not in page.text
    assert "href" not in page.text.lower()
    papers = http.get(listing.replace("papers.html", "papers.json")).json()
    assert len(papers) >= 3
    assert {"poster", "page"} == {p["kind"] for p in papers}
    host = urlsplit(listing).hostname
    talks = [f for f in CATALOGUE if f.conference and f.conference.host == host]
    posters = [p for p in papers if p["kind"] == "poster"]
    assert len(posters) == len(talks)
    for paper in papers:
        target = http.get(listing.rsplit("/", 1)[0] + "/" + paper["url"] if not paper["url"].startswith("/")
                          else f"https://{host}{paper['url']}")
        assert target.status_code == 200
        assert ("presentation-embed" in target.text) == (paper["kind"] == "poster")


# -- yt-dlp's own extractors against the replica ----------------------------------------------------------


@pytest.fixture
def ytdlp(net):
    params = {**net.ytdlp_params(), "quiet": True, "no_warnings": True, "skip_download": True}
    with yt_dlp.YoutubeDL(params) as ydl:
        yield ydl


def extract(ydl, url: str, **kwargs) -> dict:
    return ydl.sanitize_info(ydl.extract_info(url, download=False, **kwargs))


def assert_talk(info: dict, fixture, replica) -> None:
    assert info["title"] == fixture.title
    starts = [c["start_time"] for c in info["chapters"]]
    lead_in = 1 if fixture.slides[0].time_ms >= 1000 else 0  # yt-dlp adds a chapter at 0 before a late slide
    assert len(starts) == len(fixture.slides) + lead_in
    assert starts[lead_in:] == [s.time_ms // 1000 for s in fixture.slides]
    assert abs(info["duration"] - replica.app.media(fixture).duration) <= 1.5


@pytest.mark.parametrize("talk_id", [YODA, LATE, QUALITIES])
def test_ytdlp_extracts_yoda_talks_with_chapters_duration_and_audio(ytdlp, replica, talk_id):
    fixture = by_id(talk_id)
    info = extract(ytdlp, f"https://slideslive.com/{talk_id}/{urls.slug(fixture.title)}")
    assert_talk(info, fixture, replica)
    assert any(f.get("vcodec") == "none" and f.get("acodec") != "none" for f in info["formats"])
    assert len(info["thumbnails"]) == len(fixture.slides) + 1


def test_ytdlp_reads_the_xml_deck_of_an_iclr_poster_page(ytdlp, replica):
    info = extract(ytdlp, ICLR_XML_PAGE)
    fixture = by_id(XML_ONLY)
    assert info["id"] == XML_ONLY
    assert_talk(info, fixture, replica)
    names = [t["url"] for t in info["thumbnails"] if t["id"] != "cover"]
    assert names[0] == f"https://cdn.slideslive.com/data/presentations/{XML_ONLY}/slides/big/0-0001.jpg"


def test_ytdlp_follows_the_vimeo_talk_from_its_conference_page(ytdlp, replica):
    fixture = by_id(VIMEO)
    info = extract(ytdlp, ICLR_VIMEO_PAGE)
    assert info["extractor_key"] == "Vimeo"
    assert info["title"] == fixture.title
    assert len(info["chapters"]) == len(fixture.slides)
    assert abs(info["duration"] - replica.app.media(fixture).duration) <= 1.5
    assert any(f.get("vcodec") == "none" for f in info["formats"])
    assert any("http-" in f["format_id"]
                                                                          for f in info["formats"])


def test_ytdlp_finds_the_embed_only_talk_through_the_redirect_and_the_icml_page(ytdlp, replica):
    assert_talk(extract(ytdlp, f"https://slideslive.com/embed/presentation/{ICML}"), by_id(ICML), replica)
    assert_talk(extract(ytdlp, "https://icml.cc/virtual/2024/poster/34521"), by_id(ICML), replica)


def test_ytdlp_says_try_referer_when_no_domain_is_named(ytdlp):
    with pytest.raises(yt_dlp.utils.DownloadError, match="embed-only presentation. Try passing --referer"):
        ytdlp.extract_info(f"https://slideslive.com/embed/presentation/{SECRET_DOMAINS}", download=False)


def test_ytdlp_turns_video_slides_into_a_playlist(ytdlp, replica):
    fixture = by_id(VIDEO_SLIDES)
    info = extract(ytdlp, f"https://slideslive.com/{VIDEO_SLIDES}")
    entries = info["entries"]
    assert info["_type"] == "playlist"
    assert len(entries) == 3
    assert_talk(entries[0], fixture, replica)
    clips = [(e["id"], e["duration"]) for e in entries[1:]]
    assert clips == [(f"{VIDEO_SLIDES}-002", 3), (f"{VIDEO_SLIDES}-004", 4)]
    assert all(e["formats"] for e in entries[1:])


def test_ytdlp_on_live_url_youtube_and_subtitled_talks(ytdlp):
    assert extract(ytdlp, f"https://slideslive.com/{LIVE}")["is_live"] is True
    direct = extract(ytdlp, f"https://slideslive.com/{URL_TALK}")
    assert direct["url"].startswith(f"https://{urls.DIRECT_FILES}/")
    assert len(direct["chapters"]) == 3
    youtube = ytdlp.extract_info(f"https://slideslive.com/{YOUTUBE}", download=False, process=False)
    unresolved = (youtube["_type"], youtube["ie_key"], youtube["url"])
    assert unresolved == ("url_transparent", "Youtube", "aB3xK9_qLmZ")
    subtitles = extract(ytdlp, f"https://slideslive.com/{SUBTITLED}")["subtitles"]
    assert subtitles["en"][0]["ext"] == "vtt"


def test_ytdlp_handles_the_dense_deck_and_the_hostile_title(ytdlp, replica):
    dense = extract(ytdlp, f"https://slideslive.com/{DENSE}")
    assert len(dense["chapters"]) == 300
    assert abs(dense["duration"] - replica.app.media(by_id(DENSE)).duration) <= 1.5
    assert extract(ytdlp, f"https://slideslive.com/{HOSTILE}")["title"] == by_id(HOSTILE).title


# -- the player's JavaScript in the real Chromium -----------------------------------------------------------


@pytest.fixture(scope="module")
def browser(replica):
    from slidegrab.resolve.chromium import Chromium

    chromium = Chromium(NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path), timeout=30)
    yield chromium.driver
    chromium.quit()


def wait_for(driver, css: str, timeout: float = 15):
    return WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))[0]


def current_slide(driver) -> tuple[str, str | None]:
    number = driver.find_element(By.CSS_SELECTOR, "[data-slp-target='currentSlide']").text
    return number, driver.find_element(By.CSS_SELECTOR, ".slp__slidesPlayer__content > img").get_attribute("src")


def open_player(driver, url: str, inside_iframe: bool) -> None:
    driver.switch_to.default_content()
    driver.get(url)
    if inside_iframe:
        driver.switch_to.frame(wait_for(driver, "iframe[src*='slideslive.com/embed/presentation/']"))
    wait_for(driver, "[data-slp-target='rootElement'].slp--liveStarted")


@pytest.mark.browser
def test_browser_plays_the_vimeo_talk_inside_the_conference_page(browser, replica):
    mark = len(replica.log.entries)
    open_player(browser, ICLR_VIMEO_PAGE, inside_iframe=True)
    frame_url = browser.execute_script("return location.href")
    query = parse_qs(urlsplit(frame_url).query)
    assert query["js_embed_version"] == ["3"]
    assert query["embed_parent_url"] == [ICLR_VIMEO_PAGE]
    assert jwt_payload(query["embed_init_token"][0])["d"] == "iclr.cc"
    assert browser.find_element(By.CSS_SELECTOR, "[data-slp-target='slideCount']").text == "4"
    names = [slide_name(by_id(VIMEO), i) for i in range(4)]
    assert current_slide(browser) == ("1", f"https://slideslive-slides.b-cdn.net/{VIMEO}/slides/original/"
                                           f"{names[0]}.png?class=1080")
    browser.find_element(By.CSS_SELECTOR, ".slp__bigButton--next").click()
    assert current_slide(browser)[0] == "2"
    image = browser.find_element(By.CSS_SELECTOR, "[data-slp-target='slidesElement'] img")
    assert names[1] in image.get_attribute("src")
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(Keys.SHIFT).perform()
    assert current_slide(browser)[0] == "3"
    vimeo = browser.find_element(By.CSS_SELECTOR, "iframe[src^='https://player.vimeo.com/video/401234567?']")
    browser.switch_to.frame(vimeo)
    wait_for(browser, "#player video")
    entries = replica.log.entries[mark:]
    seen = [(e.path, e.status) for e in entries if e.host == "player.vimeo.com"]
    assert seen == [("/video/401234567", 200)]  # the nested iframe's Referer is slideslive.com
    assert any(e.method == "POST" and e.path.startswith("/player_session") for e in entries)


@pytest.mark.browser
def test_browser_falls_back_to_xml_and_renders_legacy_images(browser, replica):
    mark = len(replica.log.entries)
    open_player(browser, f"https://slideslive.com/{XML_ONLY}", inside_iframe=False)
    assert current_slide(browser) == ("1", f"https://cdn.slideslive.com/data/presentations/{XML_ONLY}/slides/big/"
                                           "0-0001.jpg")
    timings = [e for e in replica.log.entries[mark:] if e.host == "s.slideslive.com"]
    statuses = {e.path.rsplit("/", 1)[-1]: e.status for e in timings}
    assert statuses == {"slides.json": 403, f"{XML_ONLY}.xml": 200}
    video = browser.find_element(By.CSS_SELECTOR, "[data-slp-target='videoElement'] video")
    assert re.fullmatch(rf"https://{urls.YODA_SERVERS[0]}/\w+/master\.m3u8", video.get_attribute("src"))


@pytest.mark.browser
def test_browser_shows_video_slides_and_resized_webp(browser):
    open_player(browser, f"https://slideslive.com/embed/presentation/{VIDEO_SLIDES}", inside_iframe=False)
    browser.find_element(By.CSS_SELECTOR, ".slp__bigButton--next").click()
    clip = wait_for(browser, "[data-slp-target='slidesElement'] video")
    assert clip.get_attribute("src") == f"https://{urls.YODA_SERVERS[0]}/vsl1Qm3Xa9Bz/master.m3u8"
    open_player(browser, f"https://slideslive.com/{WEBP}", inside_iframe=False)
    assert current_slide(browser)[1].startswith(f"https://rs.slideslive.com/{WEBP}/slides/")
    assert browser.execute_script("return document.querySelector('.slp__slide').naturalHeight") == 360


@pytest.mark.browser
def test_browser_lists_conference_papers_only_after_the_script_runs(browser):
    browser.switch_to.default_content()
    browser.get("https://iclr.cc/virtual_2020/papers.html")
    wait_for(browser, "body[data-papers-loaded]")
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#papers a")]
    assert ICLR_VIMEO_PAGE in links
    assert ICLR_XML_PAGE in links
    assert "https://iclr.cc/virtual_2020/about.html" in links
    assert len(links) >= 3
