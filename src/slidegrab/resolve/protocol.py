"""The direct resolver: SlidesLive's own HTTP protocol, spoken with requests (protocol §3a).

embed page (with the parent page, when one is known) → data-player-token → /player/{id} →
slides.json, else the XML → slides_video_service_data for video slides → Captured → assemble.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from slidegrab.errors import (
    EmbedOnlyError,
    NetworkError,
    NotFoundError,
    ResolveError,
    SiteChangedError,
    UsageError,
)
from slidegrab.resolve.captured import Captured, PageMeta
from slidegrab.resolve.player import assemble, parse_embed_page, parse_player
from slidegrab.resolve.slides import HINT, parse_slides_json, yoda_clip_ids
from slidegrab.resolve.web import get, get_text, log, text_of
from slidegrab.talk import Talk
from slidegrab.urls import TalkURL, embed_url, origin_of, parse_talk_url

PLAYER = "https://slideslive.com/player/{id}"
MAX_REDIRECTS = 10


def resolve_direct(
    url: str | TalkURL,
    session: requests.Session,
    *,
    referer: str | None = None,
    page: PageMeta | None = None,
) -> Talk:
    """Resolve a SlidesLive URL. The parent page (which unlocks embed-only talks) is the URL's own
    ``embed_parent_url``, else ``referer`` (the user's --referer), else the embedding ``page``."""
    talk = parse_talk_url(url) if isinstance(url, str) else url
    if talk is None:
        raise UsageError("not a SlidesLive talk URL", url=str(url), hint="give https://slideslive.com/<id>")
    parent = talk.parent or referer or (page.url if page else None)
    origin = talk.origin or (origin_of(parent) if parent else None)
    embed_html, page_url = fetch_embed_page(session, talk.id, parent, origin)
    return assemble(capture(session, talk.id, embed_html, page_url, parent=parent, page=page), session)


def fetch_embed_page(
    session: requests.Session, talk_id: str, parent: str | None, origin: str | None
) -> tuple[str, str]:
    """The embed page's HTML and final URL, sent as if from ``parent``; refusals become clear errors."""
    url = embed_url(talk_id, parent, origin)
    headers = {k: v for k, v in (("Referer", parent or (origin and origin + "/")), ("Origin", origin)) if v}
    for _ in range(MAX_REDIRECTS):
        response = get(session, url, what="embed page", headers=headers, allow_redirects=False)
        if not (response.is_redirect and response.headers.get("Location")):
            break
        url = urljoin(url, response.headers["Location"])
        if "domain_not_allowed" in url:
            raise embed_only(talk_id, url, parent)
    else:
        raise NetworkError(f"the embed page of talk {talk_id} redirects too often", url=url)
    if response.status_code == 404:
        raise NotFoundError(f"no SlidesLive talk with id {talk_id} (HTTP 404); check the URL")
    if response.status_code != 200:
        raise NetworkError(f"the embed page of talk {talk_id} answered HTTP {response.status_code}", url=url)
    return text_of(response), url


def embed_only(talk_id: str, refusal_url: str, parent: str | None) -> EmbedOnlyError:
    domains = parse_qs(urlsplit(refusal_url).query).get("allowed_domains[]", [])
    listed = f"; it plays only under {', '.join(domains)}" if domains else ""
    tried = f" (not under {urlsplit(parent).hostname})" if parent else ""
    fix = f"https://{domains[0]}/" if domains else "https://<allowed domain>/"
    return EmbedOnlyError(
        f"talk {talk_id} is embed-only{tried}{listed}",
        hint=f"give the conference page URL that embeds it, or pass --referer {fix}",
    )


def capture(
    session: requests.Session,
    talk_id: str,
    embed_html: str,
    embed_page_url: str,
    *,
    parent: str | None = None,
    page: PageMeta | None = None,
) -> Captured:
    """Everything after the embed page: the player response, the slide timings, the video-slide hosts."""
    token = parse_embed_page(embed_html).token
    if not token:
        raise SiteChangedError(f"talk {talk_id}: the embed page has no data-player-token", hint=HINT)
    player_url = f"{PLAYER.format(id=talk_id)}?{urlencode({'player_token': token})}"
    player_text = fetch_player(session, talk_id, player_url, embed_page_url)
    tags = parse_player(player_text, talk_id)
    slides_json, slides_xml, clip_ids = fetch_timings(session, talk_id, tags)
    service_data = fetch_service_data(session, talk_id, token, clip_ids) if clip_ids else None
    return Captured(
        talk_id, embed_html, player_text, slides_json, slides_xml, service_data, parent=parent, page=page
    )


def fetch_player(session: requests.Session, talk_id: str, url: str, referer: str) -> str:
    response = get(session, url, what="player response", headers={"Referer": referer})
    if response.status_code == 401:
        raise ResolveError(f"talk {talk_id}: player token refused (expired?)", hint="run slidegrab again")
    if response.status_code == 404:
        raise NotFoundError(f"no SlidesLive talk with id {talk_id} (HTTP 404 from the player); check the URL")
    if response.status_code != 200:
        raise NetworkError(
            f"the player response of talk {talk_id} answered HTTP {response.status_code}", url=url
        )
    return text_of(response)


def fetch_timings(
    session: requests.Session, talk_id: str, tags: dict[str, str]
) -> tuple[str | None, str | None, list[str]]:
    """slides.json, and the XML only when the JSON is missing or unusable; plus the yoda video-slide ids."""
    json_text = xml_text = None
    clip_ids: list[str] = []
    if url := tags.get("VOD-SLIDES-JSON-URL"):
        json_text = get_text(session, url, what="slides JSON", optional=True)
    if json_text is not None:
        try:
            clip_ids = yoda_clip_ids(parse_slides_json(json_text, talk_id))
        except SiteChangedError as e:
            log.info("%s; trying the slides XML", e)
        else:
            return json_text, None, clip_ids
    if url := tags.get("VOD-SLIDES-XML-URL"):
        xml_text = get_text(session, url, what="slides XML", optional=True)
    return json_text, xml_text, clip_ids


def fetch_service_data(
    session: requests.Session, talk_id: str, token: str, clip_ids: list[str]
) -> str | None:
    query = urlencode({"player_token": token, "videos": ",".join(clip_ids)})
    url = f"{PLAYER.format(id=talk_id)}/slides_video_service_data?{query}"
    return get_text(session, url, what="video slides' service data", optional=True)
