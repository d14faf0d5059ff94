"""Pages that embed SlidesLive talks (Mini-Conf, iclr.cc/icml.cc/neurips.cc virtual sites; protocol §10).

Embeds are found in the static HTML: ``new SlidesLiveEmbed(…, {presentationId: "…"})`` in either quote
style, ``<iframe src=…slideslive.com/embed/…>`` and VideoKen's ``player.videoken.com/embed/slideslive-{id}``.
A plain link to slideslive.com/{id} is not an embed. Pages that build their embeds only in JavaScript are
the browser resolver's business; ``NoEmbedError`` tells the orchestrator to hand them over.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import requests

from slidegrab.errors import ResolveError
from slidegrab.resolve.captured import PageMeta
from slidegrab.resolve.pagescan import scan_page
from slidegrab.resolve.protocol import resolve_direct
from slidegrab.resolve.web import get, log, text_of
from slidegrab.talk import Talk
from slidegrab.urls import embed_url, origin_of, parse_talk_url

# Each pattern takes the whole call or tag in one greedy sweep that never backtracks, and the id or src is
# looked for inside it: a lazy scan from every "<iframe" to the next "src" took minutes on a hostile page.
_EMBED_CALL = re.compile(r"""new\s+SlidesLiveEmbed\s*\(([^)]*)""")
_PRESENTATION_ID = re.compile(r"""\bpresentationId\s*:\s*["'](\d+)["']""")
_IFRAME = re.compile(r"""<iframe\b((?:[^>"']|"[^"]*"|'[^']*')*)""", re.I)
_SRC = re.compile(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


class NoEmbedError(ResolveError):
    """The page's HTML embeds no SlidesLive talk (a browser may still find one after its scripts run)."""


def find_embeds(html: str, page_url: str) -> list[str]:
    """Embed URLs of the talks a page embeds, each once, in page order, carrying the page as their parent."""
    found: dict[str, str] = {}
    origin = origin_of(page_url)
    calls = [
        (m.start(), embed_url(i.group(1), page_url, origin))
        for m in _EMBED_CALL.finditer(html)
        if (i := _PRESENTATION_ID.search(m.group(1)))
    ]
    frames = [
        (m.start(), _iframe_embed(unescape(next(g for g in src.groups() if g is not None)).strip(), page_url, origin))
        for m in _IFRAME.finditer(html)
        if (src := _SRC.search(m.group(1)))
    ]
    for _, url in sorted((pos, url) for pos, url in calls + frames if url):
        talk = parse_talk_url(url)
        found.setdefault(talk.id, url)  # type: ignore[union-attr]
    return list(found.values())


def _iframe_embed(src: str, page_url: str, origin: str) -> str | None:
    """An iframe src that is a SlidesLive (or VideoKen) embed, with the page as parent unless it names one."""
    absolute = urljoin(page_url, src)
    talk = parse_talk_url(absolute)
    if talk is None or "/embed/" not in absolute:
        return None
    if "videoken.com" in absolute:
        return embed_url(talk.id, talk.parent, talk.origin)
    return embed_url(talk.id, talk.parent or page_url, talk.origin or origin)


def page_meta(html: str, url: str) -> PageMeta:
    """The citation_* metas: title, each author in order, conference title, publication date."""
    scan = scan_page(html)
    authors = tuple(a.strip() for a in scan.metas.get("citation_author", ()) if a.strip())
    return PageMeta(
        url=url,
        title=scan.meta("citation_title"),
        authors=authors,
        conference=scan.meta("citation_conference_title"),
        date=scan.meta("citation_publication_date", "citation_date"),
    )


def discover(url: str, session: requests.Session) -> list[str]:
    """The embed URLs of the talks a page embeds (for ``slidegrab discover``)."""
    html, final_url = fetch_page(session, url)
    talk = parse_talk_url(final_url)
    return [embed_url(talk.id, talk.parent, talk.origin)] if talk else find_embeds(html, final_url)


def resolve_page(url: str, session: requests.Session, *, referer: str | None = None) -> Talk:
    """Resolve the talk a conference page embeds, with the page as the parent that unlocks it."""
    html, final_url = fetch_page(session, url)
    if talk := parse_talk_url(final_url):  # the page redirected to SlidesLive itself
        return resolve_direct(talk, session, referer=referer)
    embeds = find_embeds(html, final_url)
    if not embeds:
        raise NoEmbedError("it embeds no SlidesLive talk in its HTML", url=url)
    if len(embeds) > 1:
        log.warning(
            "%s embeds %d talks; resolving the first (slidegrab discover lists them all)", url, len(embeds)
        )
    return resolve_direct(embeds[0], session, page=page_meta(html, final_url))


def fetch_page(session: requests.Session, url: str) -> tuple[str, str]:
    response = get(session, url, what="page")
    if response.status_code != 200:
        raise ResolveError(f"the page answered HTTP {response.status_code}", url=url, hint="check the URL")
    return text_of(response), response.url
