"""Finding embeds and citation metas in conference pages (literal HTML; no network)."""

from __future__ import annotations

from slidegrab.resolve.conference import find_embeds, page_meta
from slidegrab.urls import parse_talk_url

PAGE = "https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html"

MINICONF = """<html><head>
<meta name="citation_title" content="Towards a Deep Network Architecture for Structured Smoothness">
<meta name="citation_author" content="Haroun Habeeb">
<meta name="citation_author" content="Oluwasanmi Koyejo">
<meta name="citation_author" content="  ">
<meta name="citation_publication_date" content="2020/04/26">
<meta name="citation_conference_title" content="ICLR 2020">
</head><body>
<a href="https://slideslive.com/38902413">a plain link is not an embed</a>
<div id="presentation-embed" class="slp my-auto"></div>
<script src="https://slideslive.com/embed_presentation.js"></script>
<script>
  embed = new SlidesLiveEmbed("presentation-embed", {
    presentationId: "38925850",
    autoPlay: false, // change to true to autoplay the embedded presentation
    verticalEnabled: true,
  });
</script></body></html>"""


def ids(urls):
    return [parse_talk_url(u).id for u in urls]


def test_miniconf_embed_carries_the_page_as_parent():
    [url] = find_embeds(MINICONF, PAGE)
    assert parse_talk_url(url).parent == PAGE
    assert parse_talk_url(url).origin == "https://iclr.cc"
    assert url.startswith("https://slideslive.com/embed/presentation/38925850?embed_parent_url=")


def test_every_embed_style_in_page_order_each_once():
    html = """
    <script>new SlidesLiveEmbed('presentation-embed-39021404', {presentationId: '39021404'});</script>
    <iframe width="100%" src="https://slideslive.com/embed/presentation/39012305?embed_parent_url=https%3A%2F%2Fneurips.cc%2Fx&amp;embed_container_origin=https%3A%2F%2Fneurips.cc"></iframe>
    <iframe src='//slideslive.com/embed/38932460'></iframe>
    <IFRAME SRC=https://player.videoken.com/embed/slideslive-38968434></IFRAME>
    <iframe src="https://www.youtube.com/embed/abc"></iframe>
    <iframe src="https://slideslive.com/38902413"></iframe>
    <script>new SlidesLiveEmbed("again", {presentationId: "39021404"});</script>
    """
    urls = find_embeds(html, "https://neurips.cc/virtual/2023/poster/71456")
    assert ids(urls) == ["39021404", "39012305", "38932460", "38968434"]
    assert parse_talk_url(urls[1]).parent == "https://neurips.cc/x"  # the iframe's own parent is kept
    assert parse_talk_url(urls[2]).parent == "https://neurips.cc/virtual/2023/poster/71456"
    assert parse_talk_url(urls[3]).origin == "https://player.videoken.com"


def test_no_embeds():
    assert find_embeds("<p>SlidesLiveEmbed is mentioned; presentationId: '1' too.</p>", PAGE) == []
    assert find_embeds('<a href="https://slideslive.com/embed/presentation/38925850">x</a>', PAGE) == []


def test_page_meta():
    meta = page_meta(MINICONF, PAGE)
    assert meta.url == PAGE
    assert meta.title == "Towards a Deep Network Architecture for Structured Smoothness"
    assert meta.authors == ("Haroun Habeeb", "Oluwasanmi Koyejo")
    assert (meta.conference, meta.date) == ("ICLR 2020", "2020/04/26")
    empty = page_meta("<html></html>", PAGE)
    assert (empty.title, empty.authors, empty.conference, empty.date) == (None, (), None, None)
