"""Parsing what SlidesLive serves: the player response, the embed page, slides.json and the XML.

Literal sample strings, shaped as protocol §4-§6 describes them; no network.
"""

from __future__ import annotations

import json

import pytest

from slidegrab.errors import NotVodError, SiteChangedError
from slidegrab.resolve.captured import Captured
from slidegrab.resolve.media import extinf_total, first_variant, iso_duration, mpd_duration, vimeo_duration
from slidegrab.resolve.player import (
    assemble,
    assemble_slides,
    parse_embed_page,
    parse_player,
    parse_subtitles,
)
from slidegrab.resolve.slides import parse_clip_hosts, parse_slides_json, parse_slides_xml

# §5, as the real body would be: the report's annotations removed, LF endings, no trailing newline.
PLAYER_38956531 = "\n".join(
    [
        "#EXTM3U",
        "#EXT-SL-VERSION:1",
        "#EXT-SL-PRESENTATION-ACCOUNT-ID:84503",
        "#EXT-SL-PRESENTATION-ID:38956531",
        "#EXT-SL-PRESENTATION-TITLE:Beyond Static Papers: "
        "Rethinking How We Share Scientific Understanding in ML",
        "#EXT-SL-PRESENTATION-UPDATED-AT:2023-10-20T15:29:03Z",
        "#EXT-SL-PRESENTATION-PLAYER-TYPE:video_slideshow",
        "#EXT-SL-PRESENTATION-START-TIME:2494000",
        "#EXT-SL-PRESENTATION-THUMBNAIL:https://ma.slideslive.com/library/presentations/38956531/thumbnail/"
        "beyond-static-papers_ebgwSR_big.jpg",
        "#EXT-SL-PRESENTATION-SLIDESLIVE-LOGO-VISIBLE:false",
        "#EXT-SL-PRESENTATION-SLIDESLIVE-LOGO-LINKIFY:false",
        "#EXT-SL-PRESENTATION-CUSTOM-CMCD-TRACKING:false",
        "#EXT-SL-PLAYLIST-TYPE:vod",
        "#EXT-SL-VOD-MEDIA-SET-ID:119992",
        "#EXT-SL-VOD-VIDEO-SERVICE-NAME:yoda",
        "#EXT-SL-VOD-VIDEO-ID:oHAAFl-q6gQx",
        "#EXT-SL-VOD-VIDEO-KEN-ENABLED:true",
        '#EXT-SL-VOD-VIDEO-SERVERS:["1159783934.rsc.cdn77.org","1511376917.rsc.cdn77.org"]',
        "#EXT-SL-VOD-SLIDES-XML-URL:https://s.slideslive.com/38956531/v1/38956531.xml?1650713664",
        "#EXT-SL-VOD-SLIDES-JSON-URL:https://s.slideslive.com/38956531/v1/slides.json?1650713664",
        '#EXT-SL-VOD-SUBTITLES:[{"name":"English","language":"en","subtitles_id":56748,'
        '"webvtt_url":"https://slideslive-video-subtitles.s3.amazonaws.com/56748/subtitles.vtt'
        '?X-Amz-Algorithm=AWS4-HMAC-SHA256\\u0026X-Amz-Expires=86400"}]',
    ]
)


def player(**tags: str) -> str:
    base = {"PLAYLIST-TYPE": "vod", "VOD-VIDEO-SERVICE-NAME": "youtube", "VOD-VIDEO-ID": "dQw4w9WgXcQ"}
    lines = ["#EXTM3U"] + [f"#EXT-SL-{k}:{v}" for k, v in {**base, **tags}.items() if v is not None]
    return "\n".join(lines)


def test_player_response_of_section_5():
    tags = parse_player(PLAYER_38956531, "38956531")
    assert tags["PRESENTATION-TITLE"] == (
        "Beyond Static Papers: Rethinking How We Share Scientific Understanding in ML"
    )
    assert tags["VOD-VIDEO-SERVICE-NAME"] == "yoda"
    assert tags["VOD-VIDEO-ID"] == "oHAAFl-q6gQx"
    assert tags["VOD-SLIDES-JSON-URL"] == "https://s.slideslive.com/38956531/v1/slides.json?1650713664"
    assert tags["PRESENTATION-START-TIME"] == "2494000"
    assert tags["VOD-SUBTITLES"].endswith('\\u0026X-Amz-Expires=86400"}]')
    subtitles = parse_subtitles(tags, "38956531")
    assert [(s.language, s.name) for s in subtitles] == [("en", "English")]
    assert subtitles[0].url.endswith("subtitles.vtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86400")


def test_player_response_line_endings_and_trailing_newline():
    crlf = PLAYER_38956531.replace("\n", "\r\n") + "\r\n"
    assert parse_player(crlf, "38956531") == parse_player(PLAYER_38956531, "38956531")
    assert parse_player("\ufeff" + PLAYER_38956531 + "\n\n", "38956531")["VOD-VIDEO-ID"] == "oHAAFl-q6gQx"


def test_player_value_split_at_first_colon():
    tags = parse_player(player(**{"PRESENTATION-TITLE": "Ethics: A Talk: Part 2 (10:30)"}), "1")
    assert tags["PRESENTATION-TITLE"] == "Ethics: A Talk: Part 2 (10:30)"


def test_player_tolerates_unknown_tags_and_other_lines():
    text = player() + '\n#EXT-SL-SOMETHING-NEW:{"a":1}\n#EXT-X-VERSION:3\n\nnot a tag\n#EXT-SL-BARE'
    tags = parse_player(text, "1")
    assert tags["SOMETHING-NEW"] == '{"a":1}'
    assert "BARE" not in tags
    assert "VERSION" not in tags


@pytest.mark.parametrize("missing", ["PLAYLIST-TYPE", "VOD-VIDEO-SERVICE-NAME", "VOD-VIDEO-ID"])
def test_player_missing_required_tag_names_it_and_the_talk(missing):
    with pytest.raises(SiteChangedError, match=rf"talk 38902413: .*#EXT-SL-{missing}\b"):
        parse_player(player(**{missing: None}), "38902413")


def test_live_player_response_needs_no_vod_tags():
    text = "#EXTM3U\n#EXT-SL-PRESENTATION-TITLE:Live\n#EXT-SL-PLAYLIST-TYPE:live"
    assert parse_player(text, "1")["PLAYLIST-TYPE"] == "live"
    captured = Captured("38900009", embed_html="", player_text=text)
    with pytest.raises(
        NotVodError, match="talk 38900009 is live or not yet processed \\(playlist type live\\)"
    ):
        assemble(captured, session=None)  # type: ignore[arg-type]  # never reaches the network


@pytest.mark.parametrize(
    "body", ["", "<html>Access Denied</html>", '{"title": "x"}', "#EXT-SL-PLAYLIST-TYPE:vod"]
)
def test_player_response_that_is_not_extm3u(body):
    with pytest.raises(SiteChangedError, match="talk 7: the player response is not an #EXTM3U document"):
        parse_player(body, "7")


def test_unknown_service_is_a_site_change():
    captured = Captured("5", embed_html="", player_text=player(**{"VOD-VIDEO-SERVICE-NAME": "dailymotion"}))
    with pytest.raises(SiteChangedError, match="unknown video service 'dailymotion'"):
        assemble(captured, session=None)  # type: ignore[arg-type]


def test_assemble_youtube_and_url_need_no_network():
    html = '<meta name="title" content="From &quot;meta&quot;"><div data-player-token="T"></div>'
    talk = assemble(Captured("38903721", html, player(**{"VOD-VIDEO-SERVICE-NAME": "YouTube"})), None)  # type: ignore[arg-type]
    assert (talk.title, talk.media.service) == ('From "meta"', "youtube")
    assert talk.media.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert (talk.url, talk.duration, talk.slides, talk.start_offset) == (
        "https://slideslive.com/38903721",
        None,
        (),
        0.0,
    )
    text = player(**{"VOD-VIDEO-SERVICE-NAME": "url", "VOD-VIDEO-ID": "https://media.example/t.mp4"})
    talk = assemble(Captured("38922070", "", text), None)  # type: ignore[arg-type]
    assert (talk.media.url, talk.title) == ("https://media.example/t.mp4", "SlidesLive talk 38922070")


def test_embed_page():
    html = """<html><head><title>GCC</title><meta content="GCC IA16 backend" name="title">
    <meta property="og:title" content="OG"></head><body>
    <div id="player" class="x" data-player-token="eyJhbGciOiJIUzI1NiJ9.e30.sig" data-foo="1"></div>
    <script>window.gon={};gon.hosts={"slideslive_on_the_fly_resized_slides_host":"slideslive-slides.b-cdn.net"};
    gon.use_bunny_cdn_for_player_image_slides=true;</script></body></html>"""
    page = parse_embed_page(html)
    assert page.token == "eyJhbGciOiJIUzI1NiJ9.e30.sig"
    assert page.slides_host == "slideslive-slides.b-cdn.net"
    assert page.title == "GCC IA16 backend"
    assert parse_embed_page("<p>nothing</p>") == type(page)(None, None, None)
    assert parse_embed_page('<meta name="twitter:title" content="TW">').title == "TW"


SLIDES_JSON = {
    "slides": [
        {"type": "image", "image": {"name": "00001"}, "time": 0},
        {"type": "image", "image": {"name": "NYwM7n6tp4WqIH8o", "extname": ".jpg"}, "time": 53921},
        {
            "type": "video",
            "time": 60440,
            "video": {"service": "yoda", "id": "vvzVOxYp_ynO", "duration_ms": 21280, "muted": True},
        },
        {"image": {"name": "6fbe2879-a5e1__0-0004", "extname": ".png"}, "time": "90000"},
    ]
}


def test_slides_json_times_exts_and_urls():
    slides = parse_slides_json(json.dumps(SLIDES_JSON), "38979682", slides_host="slideslive-slides.b-cdn.net")
    assert [s.index for s in slides] == [1, 2, 3, 4]
    assert [s.start for s in slides] == [0.0, 53.921, 60.44, 90.0]
    assert [s.ext for s in slides] == [".png", ".jpg", "", ".png"]
    assert [s.kind for s in slides] == ["image", "image", "video", "image"]
    assert slides[0].image_url == "https://slideslive-slides.b-cdn.net/38979682/slides/original/00001.png"
    assert (
        slides[1].image_url
        == "https://slideslive-slides.b-cdn.net/38979682/slides/original/NYwM7n6tp4WqIH8o.jpg"
    )
    video = slides[2]
    assert (video.image_url, video.name, video.video.id, video.video.duration) == (
        None,
        "",
        "vvzVOxYp_ynO",
        21.28,
    )
    assert video.video.url is None  # no service data given


def test_slides_json_default_host_resizer_and_qualities():
    data = json.dumps(SLIDES_JSON)
    assert (
        parse_slides_json(data, "1")[0].image_url
        == "https://slides.slideslive.com/1/slides/original/00001.png"
    )
    resized = parse_slides_json(data, "1", slides_host="rs.slideslive.com")
    assert resized[0].image_url == "https://rs.slideslive.com/1/slides/00001.png?h=1080&f=png"
    assert resized[1].image_url == "https://rs.slideslive.com/1/slides/NYwM7n6tp4WqIH8o.jpg?h=1080&f=jpg"
    old = parse_slides_json(json.dumps({"slide_qualities": ["big", "medium"], **SLIDES_JSON}), "1")
    assert old[0].image_url == "https://cdn.slideslive.com/data/presentations/1/slides/big/00001.jpg"
    assert (old[0].ext, old[3].ext) == (".jpg", ".png")  # the default is .jpg there; extname still wins
    assert (
        old[3].image_url
        == "https://cdn.slideslive.com/data/presentations/1/slides/big/6fbe2879-a5e1__0-0004.png"
    )


def test_video_slide_clip_url_from_service_data():
    hosts = parse_clip_hosts('{"vvzVOxYp_ynO": {"video_servers": ["a.cdn77.org", "b.cdn77.org"]}}', "1")
    slides = parse_slides_json(json.dumps(SLIDES_JSON), "1", clip_hosts=hosts)
    assert slides[2].video.url == "https://a.cdn77.org/vvzVOxYp_ynO/master.m3u8"


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda d: d["slides"][3].pop("time"), r"slides\.json: slides\[3\]\.time missing"),
        (lambda d: d["slides"][1].update(time="soon"), r"slides\[1\]\.time is 'soon'"),
        (lambda d: d["slides"][1].update(time=-5), r"slides\[1\]\.time is -5"),
        (lambda d: d["slides"][0]["image"].pop("name"), r"slides\[0\]\.image\.name missing"),
        (lambda d: d["slides"][0]["image"].update(extname="/../x"), r"slides\[0\]\.image\.extname"),
        (lambda d: d["slides"][2]["video"].pop("id"), r"slides\[2\]\.video\.id missing"),
        (lambda d: d["slides"][0].pop("image"), r"slides\[0\] has neither image nor video"),
        (lambda d: d["slides"].append("x"), r"slides\[4\] is not an object"),
        (lambda d: d.pop("slides"), r"slides\.json: slides missing"),
        (lambda d: d.update(slide_qualities="big"), r"slide_qualities"),
    ],
)
def test_slides_json_shape_errors_name_the_field(mutate, says):
    data = json.loads(json.dumps(SLIDES_JSON))
    mutate(data)
    with pytest.raises(SiteChangedError, match=says):
        parse_slides_json(json.dumps(data), "38979682")


SLIDES_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<videoContent>'
    "<slide><orderId>1</orderId><timeSec>0</timeSec><time>0</time><slideName>0-0001</slideName></slide>"
    "<slide><orderId>2</orderId><timeSec>12</timeSec><time>12345.5</time><slideName>0-0002</slideName></slide>"
    "<slide><orderId>3</orderId><timeSec>20</timeSec><slideName>0-0003</slideName></slide>"
    "</videoContent>"
)


def test_slides_xml():
    slides = parse_slides_xml(SLIDES_XML, "38902413")
    assert [s.start for s in slides] == [0.0, 12.3455, 20.0]  # <time> (ms) wins over <timeSec>
    assert [s.name for s in slides] == ["0-0001", "0-0002", "0-0003"]
    assert {s.ext for s in slides} == {".jpg"}
    assert (
        slides[0].image_url == "https://cdn.slideslive.com/data/presentations/38902413/slides/big/0-0001.jpg"
    )


def test_slides_xml_error_document_is_absent():
    error = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    assert parse_slides_xml(error, "1") is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("<videoContent><slide>", "not XML"),
        ("Access Denied", "not XML"),
        ("<html><body>x</body></html>", "root <html>"),
        ("<videoContent><slide><time>1</time></slide></videoContent>", r"slide\[0\]\.slideName missing"),
        ("<videoContent><slide><slideName>a</slideName></slide></videoContent>", r"slide\[0\]\.time missing"),
    ],
)
def test_slides_xml_malformed(body, says):
    with pytest.raises(SiteChangedError, match=says):
        parse_slides_xml(body, "1")


def captured(json_text=None, xml_text=None):
    return Captured("38902413", "", player(), slides_json=json_text, slides_xml=xml_text)


def test_slides_fall_back_from_bad_json_to_xml():
    bad = json.dumps({"slides": [{"image": {"name": "a"}}]})
    assert [s.name for s in assemble_slides(captured(bad, SLIDES_XML), None)] == [
        "0-0001",
        "0-0002",
        "0-0003",
    ]


def test_slides_absent_or_refused_is_no_slides():
    assert assemble_slides(captured(), None) == []
    assert assemble_slides(captured(None, "<Error><Code>AccessDenied</Code></Error>"), None) == []


def test_slides_both_malformed_is_a_site_change():
    with pytest.raises(SiteChangedError, match="slides.json is not JSON"):
        assemble_slides(captured("{oops", "<videoContent"), None)


def test_hls_and_dash_durations():
    master = (
        '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="media_5.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=2500000,AUDIO="a"\nmedia_3.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nmedia_1.m3u8'
    )
    assert first_variant(master) == "media_3.m3u8"
    media = (
        '#EXTM3U\n#EXT-X-MAP:URI="init.m4s"\n'
        + "#EXTINF:4.0,\nc1.m4s\n#EXTINF:4.004,\nc2.m4s\n#EXTINF:1.5,\nc3.m4s\n"
    )
    assert extinf_total(media + "#EXT-X-ENDLIST") == 9.504
    assert extinf_total(media) is None  # not finished: no duration, as yt-dlp
    assert mpd_duration('<MPD mediaPresentationDuration="PT1H2M3.25S" type="static">') == 3723.25
    assert iso_duration("PT326S") == 326.0
    assert iso_duration("P1DT1S") == 86401.0
    assert iso_duration("soon") is None


def test_vimeo_duration_from_player_config():
    page = '<script>window.playerConfig = {"video": {"id": 1, "duration": 171, "title": "x };"}};\n</script>'
    assert vimeo_duration(page, "https://player.vimeo.com/video/1", "1") == 171.0
    with pytest.raises(SiteChangedError, match="no playerConfig"):
        vimeo_duration("<html></html>", "https://player.vimeo.com/video/1", "1")
