"""URL forms (a table in streamlink's style), slugs, URL lists and URL validation."""

from __future__ import annotations

import re

import pytest

from slidegrab.errors import UsageError
from slidegrab.urls import (
    TalkURL,
    canonical_url,
    embed_url,
    parse_talk_url,
    read_url_list,
    slugify,
    validate_url,
)

VIDEOKEN = "https://player.videoken.com/embed/slideslive-38968434"

SHOULD_MATCH = [
    ("https://slideslive.com/38902413", TalkURL("38902413")),
    ("http://slideslive.com/38902413", TalkURL("38902413")),
    ("https://slideslive.com/38902413/gcc-ia16-backend", TalkURL("38902413")),
    ("https://slideslive.com/38979920/", TalkURL("38979920")),
    ("https://slideslive.com/38902413?ref=search#t=10", TalkURL("38902413")),
    ("https://slideslive.com/embed/38932460/", TalkURL("38932460")),
    ("https://slideslive.com/embed/38932460", TalkURL("38932460")),
    ("https://slideslive.com/embed/presentation/38925850", TalkURL("38925850")),
    ("HTTPS://SlidesLive.COM/38925850", TalkURL("38925850")),
    ("https://slideslive.com:443/38925850", TalkURL("38925850")),
    ("  https://slideslive.com/38925850  ", TalkURL("38925850")),
    ("https://slideslive.de/38956531/beyond-static-papers", TalkURL("38956531")),
    (
        "https://slideslive.com/embed/presentation/38979880?embed_parent_url=https%3A%2F%2Fedit.videoken.com%2F",
        TalkURL("38979880", parent="https://edit.videoken.com/"),
    ),
    (
        "https://slideslive.com/embed/presentation/38979682?embed_container_origin=https%3A%2F%2Fedit.videoken.com",
        TalkURL("38979682", origin="https://edit.videoken.com"),
    ),
    (
        "https://slideslive.com/embed/presentation/39000824?js_embed_version=3&embed_init_token=eyJ"
        "&embed_parent_url=https://iclr.cc/virtual/2023/invited-talk/1&embed_origin=https://iclr.cc"
        "&embed_container_id=presentation-embed-39000824",
        TalkURL("39000824", parent="https://iclr.cc/virtual/2023/invited-talk/1", origin="https://iclr.cc"),
    ),
    (  # several values: the last one wins, whichever origin key carries it
        "https://slideslive.com/embed/38925850?embed_parent_url=https://a.org/1&embed_parent_url=https://b.org/2"
        "&embed_origin=https://a.org&embed_container_origin=https://b.org",
        TalkURL("38925850", parent="https://b.org/2", origin="https://b.org"),
    ),
    (  # a parent that is not a web URL is not sent anywhere
        "https://slideslive.com/embed/38925850?embed_parent_url=javascript:alert(1)",
        TalkURL("38925850"),
    ),
    (VIDEOKEN, TalkURL("38968434", parent=VIDEOKEN, origin="https://player.videoken.com")),
]

SHOULD_NOT_MATCH = [
    "https://www.slideslive.com/38902413",  # yt-dlp and SlidesLive: the bare host only
    "https://slideslive.com.evil.org/38902413",
    "https://notslideslive.com/38902413",
    "https://evil.org/slideslive.com/38902413",
    "https://slideslive.com@evil.org/38902413",
    "https://slideslive.com/abc",
    "https://slideslive.com/38902413abc",
    "https://slideslive.com/embed/presentation/",
    "https://slideslive.com/embed/presentation/abc",
    "https://slideslive.com/embed/video/38902413",
    "https://slideslive.com/",
    "https://slideslive.com",
    "https://slideslive.com/conference/neurips-2023/38902413",
    "ftp://slideslive.com/38902413",
    "file:///slideslive.com/38902413",
    "slideslive.com/38902413",
    "//slideslive.com/38902413",
    "https://slideslive.com/3890 2413",
    "https://player.videoken.com/embed/38968434",
    "https://player.videoken.com/embed/slideslive-abc",
    "https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html",
    "https://icml.cc/virtual/2024/oral/35572",
    "",
    "not a url",
]


@pytest.mark.parametrize(("url", "expected"), SHOULD_MATCH)
def test_should_match(url, expected):
    assert parse_talk_url(url) == expected


@pytest.mark.parametrize("url", SHOULD_NOT_MATCH)
def test_should_not_match(url):
    assert parse_talk_url(url) is None


def test_canonical_and_embed_urls():
    assert canonical_url("38902413") == "https://slideslive.com/38902413"
    assert TalkURL("38902413").canonical == "https://slideslive.com/38902413"
    assert embed_url("38925850") == "https://slideslive.com/embed/presentation/38925850"
    url = embed_url("38925850", "https://iclr.cc/p.html?a=1&b=2", "https://iclr.cc")
    assert parse_talk_url(url) == TalkURL(
        "38925850", parent="https://iclr.cc/p.html?a=1&b=2", origin="https://iclr.cc"
    )


HOSTILE = 'Ünïcödé / "Quotes" & ../../etc/passwd: a Talk about ..\\Paths'


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("GCC IA16 backend", "gcc-ia16-backend"),
        ("SPECIÁL: Meta-přednáška Petra Ludwiga", "special-meta-prednaska-petra-ludwiga"),
        ("Straße, Æsir, Œuvre, Łódź", "strasse-aesir-oeuvre-lodz"),
        (HOSTILE, "unicode-quotes-etc-passwd-a-talk-about-paths"),
        ("  --Leading & trailing--  ", "leading-trailing"),
        ("a\x00b\x1fc\r\nd\te", "a-b-c-d-e"),
        ("", "talk"),
        ("../..", "talk"),
        ("日本語のタイトル", "talk"),
        ("CON", "con-talk"),
        ("nul", "nul-talk"),
        ("Com1", "com1-talk"),
        ("LPT9", "lpt9-talk"),
        ("Console", "console"),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


@pytest.mark.parametrize("title", [HOSTILE, "x" * 2000, "word " * 400, "é" * 2000, "/" * 2000, "a-" * 1000])
def test_slugify_is_bounded_and_safe(title):
    slug = slugify(title)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)
    assert 0 < len(slug) <= 80


def test_slugify_cuts_at_a_word_boundary():
    assert slugify("alpha beta gamma", max_len=12) == "alpha-beta"
    assert slugify("alpha beta gamma", max_len=10) == "alpha-beta"
    assert slugify("alphabetagamma", max_len=5) == "alpha"


def test_read_url_list():
    lines = [
        "# ICLR 2020 talks\n",
        "\n",
        "   https://slideslive.com/38925850/towards-a-deep-network  \n",
        "https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html",
        "  # indented comment",
        "https://slideslive.com/embed/presentation/38925850",
        "https://slideslive.com/38902413",
        "https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html",
        "http://slideslive.de/38902413/gcc",
        "https://player.videoken.com/embed/slideslive-38968434",
        "https://slideslive.com/embed/38968434",
        "\t",
    ]
    assert read_url_list(lines) == [
        "https://slideslive.com/38925850/towards-a-deep-network",
        "https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html",
        "https://slideslive.com/38902413",
        "https://player.videoken.com/embed/slideslive-38968434",
    ]


def test_read_url_list_prefers_the_form_that_names_the_parent():
    with_parent = "https://slideslive.com/embed/presentation/38925850?embed_parent_url=https://iclr.cc/p.html"
    lines = ["https://slideslive.com/38902413", "https://slideslive.com/38925850", with_parent]
    assert read_url_list(lines) == ["https://slideslive.com/38902413", with_parent]


def test_read_url_list_keeps_other_urls_by_exact_string():
    lines = ["https://example.org/a", "https://example.org/a/", "https://example.org/a"]
    assert read_url_list(lines) == ["https://example.org/a", "https://example.org/a/"]


@pytest.mark.parametrize(
    "url",
    [
        "https://slideslive.com/38902413",
        " http://iclr.cc/virtual_2020/poster_Hklr204Fvr.html ",
        "https://[::1]:8080/page",
        "https://localhost/x",
    ],
)
def test_validate_url_accepts(url):
    assert validate_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "'file:' URLs are not supported"),
        ("javascript:alert(1)", "'javascript:' URLs are not supported"),
        ("ftp://slideslive.com/38902413", "'ftp:' URLs are not supported"),
        ("slideslive.com/38902413", "write it as https://slideslive.com/38902413"),
        ("https://", "no valid host"),
        ("https:///38902413", "no valid host"),
        ("https://exa mple.org/", "spaces or control characters"),
        ("https://example.org/\x00", "spaces or control characters"),
        ("https://example.org:99999/", "not a valid URL"),
        ("https://exa<mple>.org/", "no valid host"),
        ("", "empty URL"),
        ("   ", "empty URL"),
    ],
)
def test_validate_url_rejects(url, says):
    with pytest.raises(UsageError) as info:
        validate_url(url)
    message = str(info.value)
    assert says in message
    assert "\n" not in message
