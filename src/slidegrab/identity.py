"""Which talk each URL of a batch names, learned before any work, so that every talk is fetched once.

A SlidesLive URL names its talk in any of its forms. A conference page does not: its talk is what it
embeds. The archive may already know (``talk.json`` records the page a talk came from); else the page's
HTML is read, one request, as the resolver would read it first. A page whose HTML embeds no talk is then
rendered in the browser the resolver would fall back on (one Chromium for all such pages, the run's own,
started only when there is such a page; none when the user turned the browser off), which runs its scripts
until the player has asked for the talk. A page that cannot be read now, or whose talk not even the browser
shows, keeps its URL as its key: it is then one talk of its own.

The keys serve twice: a page and another URL of the same talk are fetched once (two workers on one talk
folder would race), and ``--shard`` places a talk by its id whichever form the list gives it in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import requests

from slidegrab.archive import Archive
from slidegrab.errors import SlidegrabError
from slidegrab.net import NetConfig
from slidegrab.urls import parse_talk_url

log = logging.getLogger("slidegrab")
READERS = 8  # pages read at once


class Renderer(Protocol):
    """What identity needs of a browser (``pipeline.SharedBrowser``)."""

    def talk_id(self, url: str) -> str: ...


def talk_keys(urls: Iterable[str], archive: Archive, net: NetConfig, browser: Renderer | None = None) -> dict[str, str]:
    """url → the talk's SlidesLive id, or the URL itself when neither its HTML nor ``browser`` tells it."""
    urls = list(urls)
    keys = {url: key for url in urls if (key := known_key(url, archive))}
    read = read_keys([url for url in dict.fromkeys(urls) if url not in keys], net)
    if browser is not None and (scripted := sum(key is None for key in read.values())):
        log.info("rendering %d page(s) whose HTML embeds no talk, to learn their talks", scripted)
    keys.update((url, key or rendered_key(url, browser)) for url, key in read.items())
    return keys


def read_keys(pages: list[str], net: NetConfig) -> dict[str, str | None]:
    """Each page's ``page_key``, READERS pages at once."""
    if not pages:
        return {}
    with net.session() as session, ThreadPoolExecutor(READERS, thread_name_prefix="page") as pool:
        return dict(zip(pages, pool.map(lambda url: page_key(url, session), pages), strict=True))


def known_key(url: str, archive: Archive) -> str | None:
    """The id a URL names itself, or that the archive recorded for the page; None when neither."""
    if talk := parse_talk_url(url):
        return talk.id
    folder = archive.find(url)
    return folder.talk.id if folder else None


def page_key(url: str, session: requests.Session) -> str | None:
    """The id of the (first) talk a page embeds in its HTML; None when it embeds none; the URL itself when
    the page cannot be read."""
    from slidegrab.resolve.conference import fetch_page, find_embeds

    try:
        html, final_url = fetch_page(session, url)
    except Exception as e:  # only a placement: the talk's own resolve reports the failure, in its row
        _not_learned(url, "read", e)
        return url
    found = parse_talk_url(final_url) or next(map(parse_talk_url, find_embeds(html, final_url)), None)
    return found.id if found else None


def rendered_key(url: str, browser: Renderer | None) -> str:
    """The id of the talk a page shows once its scripts ran, else (or without a browser) the URL itself."""
    if browser is None:
        return url
    try:
        return browser.talk_id(url)
    except Exception as e:
        _not_learned(url, "render", e)
        return url


def _not_learned(url: str, how: str, error: Exception) -> None:
    log.info("could not %s %s to learn its talk: %s", how, url, error, exc_info=not isinstance(error, SlidegrabError))


def one_per_talk(urls: Iterable[str], keys: Mapping[str, str]) -> list[str]:
    """One URL per talk, where it first appears; a conference page is kept over another form of its talk
    (it carries the authors and conference, and unlocks embed-only talks)."""
    kept: dict[str, str] = {}
    for url in urls:
        key = keys.get(url, url)
        if key in kept:
            log.info("%s and %s are the same talk: fetching it once", kept[key], url)
            if not _richer(url, kept[key]):
                continue
        kept[key] = url  # a replaced value keeps its key's place
    return list(kept.values())


def _richer(url: str, than: str) -> bool:
    return parse_talk_url(url) is None and parse_talk_url(than) is not None
