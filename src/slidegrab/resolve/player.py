"""Parsing what SlidesLive serves, and ``assemble``: the one place a Talk is built (protocol §4, §5).

Both resolvers (the direct client and the browser) hand what they saw to ``assemble`` as a ``Captured``,
so the same talk gives the same Talk whichever way it was read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import requests

from slidegrab.errors import NotVodError, SiteChangedError
from slidegrab.resolve.captured import Captured, PageMeta
from slidegrab.resolve.media import resolve_media
from slidegrab.resolve.pagescan import scan_page
from slidegrab.resolve.slides import changed, parse_clip_hosts, parse_slides_json, parse_slides_xml
from slidegrab.resolve.web import log
from slidegrab.safety import checked_url, clean_text
from slidegrab.talk import Slide, Subtitle, Talk
from slidegrab.urls import canonical_url

TAG_PREFIX = "#EXT-SL-"
VOD_REQUIRED = ("VOD-VIDEO-SERVICE-NAME", "VOD-VIDEO-ID")
START_TIME_TAGS = ("PRESENTATION-START-TIME", "START-TIME")
URL_TAGS = ("VOD-SLIDES-JSON-URL", "VOD-SLIDES-XML-URL", "PRESENTATION-THUMBNAIL")  # fetched, or kept
_SLIDES_HOST = re.compile(r"""slideslive_on_the_fly_resized_slides_host["']?\s*[:=]\s*["']([A-Za-z0-9.-]+)["']""")


@dataclass(frozen=True)
class EmbedPage:
    token: str | None  # data-player-token
    slides_host: str | None  # gon.hosts.slideslive_on_the_fly_resized_slides_host
    title: str | None  # <meta name="title">, else og:title / twitter:title


def parse_embed_page(html: str) -> EmbedPage:
    scan = scan_page(html)
    host = _SLIDES_HOST.search(html)
    title = scan.meta("title", "og:title", "twitter:title")
    return EmbedPage(scan.player_token, host.group(1) if host else None, title)


def parse_player(text: str, talk_id: str) -> dict[str, str]:
    """The #EXT-SL-* tags of a /player/{id} response, keyed without the prefix ("PRESENTATION-TITLE" …).

    Each value is everything after the first colon; a repeated tag keeps its first value; unknown tags
    and other lines are ignored. Required:
    PLAYLIST-TYPE, and for a ``vod`` talk the video service name and id. URL tags must lead to the public
    web (safety.checked_url) before anyone fetches them.
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise changed("the player response is not an #EXTM3U document", talk_id)
    tags: dict[str, str] = {}
    for line in lines[1:]:
        tag, colon, value = line.strip().partition(":")
        if colon and tag.startswith(TAG_PREFIX):
            tags.setdefault(tag[len(TAG_PREFIX) :], value.strip())
    _require(tags, talk_id, "PLAYLIST-TYPE")
    if tags["PLAYLIST-TYPE"].lower() == "vod":
        _require(tags, talk_id, *VOD_REQUIRED)
    for tag in URL_TAGS:
        if tags.get(tag):
            checked_url(tags[tag], f"talk {talk_id}: #EXT-SL-{tag}")
    return tags


def assemble(captured: Captured, session: requests.Session) -> Talk:
    """Turn what a resolver saw into a Talk; only the media manifests (or Vimeo page) are fetched."""
    talk_id = captured.talk_id
    tags = parse_player(captured.player_text, talk_id)
    kind = tags["PLAYLIST-TYPE"]
    if kind.lower() != "vod":
        raise NotVodError(
            f"talk {talk_id} is live or not yet processed (playlist type {kind}); try again once it is on demand"
        )
    if tags.get("PRESENTATION-ID", talk_id) != talk_id:
        log.warning("talk %s: the player response names presentation %s", talk_id, tags["PRESENTATION-ID"])
    embed = parse_embed_page(captured.embed_html)
    slides = assemble_slides(captured, embed.slides_host)
    media, duration = resolve_media(
        tags["VOD-VIDEO-SERVICE-NAME"].lower(),
        tags["VOD-VIDEO-ID"],
        _json_list(tags, "VOD-VIDEO-SERVERS", talk_id),
        talk_id=talk_id,
        parent=captured.parent or (captured.page.url if captured.page else None),
        session=session,
    )
    page = captured.page or PageMeta(url="")
    return checked_talk(
        Talk(
            id=talk_id,
            url=canonical_url(talk_id),
            title=_title(tags.get("PRESENTATION-TITLE"), embed.title, page.title) or f"SlidesLive talk {talk_id}",
            media=media,
            slides=tuple(slides),
            speakers=tuple(filter(None, map(clean_text, page.authors))),
            conference=clean_text(page.conference) or None,
            page_url=page.url or None,
            duration=duration,
            start_offset=_start_offset(tags, talk_id),
            subtitles=parse_subtitles(tags, talk_id),
            thumbnail=tags.get("PRESENTATION-THUMBNAIL") or None,
            updated_at=clean_text(tags.get("PRESENTATION-UPDATED-AT"), 40) or None,
        )
    )


def checked_talk(talk: Talk) -> Talk:
    """The Talk, once every URL in it is known to lead to the public web: later stages fetch them all."""
    where = f"talk {talk.id}"
    checked_url(talk.media.url, f"{where}: the media URL")
    for slide in talk.slides:
        if slide.image_url is not None:
            checked_url(slide.image_url, f"{where}: slide {slide.index}'s image URL")
        if slide.video and slide.video.url is not None:
            checked_url(slide.video.url, f"{where}: video slide {slide.index}'s clip URL")
    for subtitle in talk.subtitles:
        checked_url(subtitle.url, f"{where}: the {subtitle.language} subtitles URL")
    if talk.thumbnail:
        checked_url(talk.thumbnail, f"{where}: #EXT-SL-PRESENTATION-THUMBNAIL")
    return talk


def _title(*candidates: str | None) -> str | None:
    """The first title that has text once control characters are gone."""
    return next((title for title in map(clean_text, candidates) if title), None)


def assemble_slides(captured: Captured, slides_host: str | None) -> list[Slide]:
    """Slides from the JSON, else the XML. A file that answered but does not parse is a site change,
    unless the other file gives the slides; neither file present means a talk without slides."""
    talk_id = captured.talk_id
    clip_hosts = parse_clip_hosts(captured.video_service_data, talk_id) if captured.video_service_data else {}
    failures: list[SiteChangedError] = []
    if captured.slides_json is not None:
        try:
            return parse_slides_json(captured.slides_json, talk_id, slides_host=slides_host, clip_hosts=clip_hosts)
        except SiteChangedError as e:
            failures.append(e)
    if captured.slides_xml is not None:
        try:
            slides = parse_slides_xml(captured.slides_xml, talk_id)
        except SiteChangedError as e:
            failures.append(e)
        else:
            if slides is not None:
                for e in failures:
                    log.info("%s; using the slides XML instead", e)
                return slides
    if failures:
        raise failures[0]
    return []


def parse_subtitles(tags: dict[str, str], talk_id: str) -> tuple[Subtitle, ...]:
    subtitles = []
    for i, entry in enumerate(_json_list(tags, "VOD-SUBTITLES", talk_id)):
        url = entry.get("webvtt_url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url:
            raise changed(f"VOD-SUBTITLES[{i}].webvtt_url missing", talk_id)
        checked_url(url, f"talk {talk_id}: #EXT-SL-VOD-SUBTITLES[{i}].webvtt_url")
        language = clean_text(str(entry.get("language") or ""), 40) or "en"
        name = clean_text(str(entry.get("name") or ""), 200) or language
        subtitles.append(Subtitle(language=language, name=name, url=url))
    return tuple(subtitles)


def _start_offset(tags: dict[str, str], talk_id: str) -> float:
    for tag in START_TIME_TAGS:
        if value := tags.get(tag):
            try:
                ms = float(value)
            except ValueError:
                ms = -1.0
            if not 0 <= ms < float("inf"):
                raise changed(f"#EXT-SL-{tag} is {value!r}, not a time in ms", talk_id)
            return ms / 1000
    return 0.0


def _json_list(tags: dict[str, str], tag: str, talk_id: str) -> list[Any]:
    if not tags.get(tag):
        return []
    try:
        value = json.loads(tags[tag])
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's stack
        value = None
    if not isinstance(value, list):
        raise changed(f"#EXT-SL-{tag} is not a JSON list", talk_id)
    return value


def _require(tags: dict[str, str], talk_id: str, *names: str) -> None:
    for name in names:
        if not tags.get(name):
            raise changed(f"the player response lacks #EXT-SL-{name}", talk_id)
