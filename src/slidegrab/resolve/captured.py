"""What a resolver saw, raw: the contract between the ways of resolving and the one assembler.

The direct protocol client (protocol.py) fills this with requests; the browser resolver (browser.py)
fills it from Chromium's network log and DOM. Both hand it to ``player.assemble``, which alone turns it
into a Talk, so the two ways give identical Talks for the same talk.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PageMeta:
    """What an embedding (conference) page says about the talk, from its citation_* metas."""

    url: str  # the page itself; it is the parent (Referer) that unlocks embed-only talks
    title: str | None = None
    authors: tuple[str, ...] = ()
    conference: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Captured:
    talk_id: str
    embed_html: str  # the /embed/presentation/{id} (or public) page as served
    player_text: str  # the body of /player/{id}?player_token=…
    slides_json: str | None = None  # body of VOD-SLIDES-JSON-URL when it answered 200
    slides_xml: str | None = None  # body of VOD-SLIDES-XML-URL when it answered 200 (and JSON did not)
    video_service_data: str | None = None  # body of /player/{id}/slides_video_service_data, if fetched
    parent: str | None = None  # the embedding page URL, when the talk was embedded
    page: PageMeta | None = None
    extra: dict[str, str] = field(default_factory=dict)  # e.g. the Vimeo iframe src the browser saw
