"""One page load in the browser, watched through the network log until a talk's parts are all in.

``PageCapture.poll`` is called again and again (by a WebDriverWait) while the page runs. Each call folds
the new Network events into the log and walks the same steps as the direct client (protocol.py): the
embed page, the ``/player/{id}`` response, slides.json (else the XML), the video slides' service data.
It returns None while something is still on its way (``waiting_for`` says what), raises the same errors
as the direct client for the same answers, and returns the ``Captured`` once everything has answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By

from slidegrab.errors import BrowserError, NetworkError, NotFoundError, ResolveError, SiteChangedError
from slidegrab.resolve.captured import Captured
from slidegrab.resolve.chromium import Chromium, Exchange, NetLog
from slidegrab.resolve.conference import NoEmbedError, page_meta
from slidegrab.resolve.player import parse_player
from slidegrab.resolve.protocol import embed_only
from slidegrab.resolve.slides import parse_slides_json, yoda_clip_ids
from slidegrab.resolve.web import log
from slidegrab.urls import parse_talk_url

QUIET_S = 0.6  # no DOM change and no network event for this long: the page has finished rendering
UNWAITED = frozenset({"Media", "EventSource", "WebSocket", "Ping"})  # may stay open while the page is idle
PENDING = object()
NO_EMBED = "no SlidesLive talk found on this page, even after its scripts ran"
NETWORK_HINT = "check --proxy and the network"
_WATCH_DOM = """
if (window.__slidegrabChanged === undefined) {
  window.__slidegrabChanged = performance.now();
  new MutationObserver(() => { window.__slidegrabChanged = performance.now(); })
    .observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
}
return document.readyState === "complete" ? (performance.now() - window.__slidegrabChanged) / 1000 : -1;
"""


class PageSettled:
    """A wait condition: the page has loaded, nothing is in flight, and neither the DOM nor the network
    has changed for QUIET_S (a script that reacts to a response gets that long to act on it)."""

    def __init__(self, chromium: Chromium, url: str, netlog: NetLog | None = None):
        self.chromium, self.url = chromium, url
        self.own_log = netlog is None
        self.log = netlog or NetLog()

    def __call__(self, _driver: object = None) -> bool:
        if self.own_log:
            self.log.feed(self.chromium.events())
            if top := self.log.find(lambda e: e.kind == "Document"):
                check_page(top[1], self.url)
        if time.monotonic() - self.log.last_change < QUIET_S:
            return False
        if any(e.kind not in UNWAITED for e in self.log.pending()):
            return False
        return self.chromium.driver.execute_script(_WATCH_DOM) >= QUIET_S


def check_page(top: Exchange, url: str) -> None:
    """The same answer as the direct client's for an embedding page that failed."""
    if top.error:
        raise NetworkError(f"could not fetch the page: {top.error}", url=url, hint=NETWORK_HINT)
    if top.status is not None and top.status != 200 and parse_talk_url(top.first_url) is None:
        raise ResolveError(f"the page answered HTTP {top.status}", url=url, hint="check the URL")


class PageCapture:
    """The wait condition of one ``BrowserResolver.capture``: None until a Captured can be built."""

    def __init__(self, chromium: Chromium, url: str, parent: str | None):
        self.chromium, self.url, self.parent = chromium, url, parent
        self.log = NetLog()
        self.settled = PageSettled(chromium, url, self.log)
        self.bodies: dict[str, str] = {}
        self.told: set[str] = set()
        self.waiting_for = "the page's response"

    def poll(self, _driver: object) -> Captured | None:
        self.log.feed(self.chromium.events())
        return self._advance()

    def _advance(self) -> Captured | None:
        if (top := self._top()) is None or (embed := self._embed(top)) is None:
            return None
        talk_id = parse_talk_url(embed[0].first_url).id  # type: ignore[union-attr]
        parent = self.parent if parse_talk_url(self.url) else top.url
        _check_embed(talk_id, embed[0], parent)
        if (player := self._over(_player(talk_id), "player response")) is None:
            return None
        tags = parse_player(_check_player(talk_id, *player), talk_id)
        vod = tags["PLAYLIST-TYPE"].lower() == "vod"  # else assemble raises NotVodError
        if (parts := self._parts(talk_id, tags) if vod else (None, None, None, {})) is None:
            return None
        page = None if parse_talk_url(self.url) else page_meta(self.chromium.driver.page_source, top.url)
        return Captured(talk_id, embed[1] or "", player[1] or "", *parts[:3], parent=parent, page=page, extra=parts[3])

    def _top(self) -> Exchange | None:
        """The loaded page's own response, once it has answered (a failure raises)."""
        found = self.log.find(lambda e: e.kind == "Document")
        if found is None or found[1].status is None and not found[1].error:
            self.waiting_for = "the page's response"
            return None
        check_page(found[1], self.url)
        return found[1]

    def _embed(self, top: Exchange) -> tuple[Exchange, str | None] | None:
        """The SlidesLive embed document (the page itself, or the iframe its scripts made)."""
        embed = self._over(_embed_document, "SlidesLive embed page (the player iframe)")
        if embed is None and parse_talk_url(self.url) is None and self.settled():
            raise NoEmbedError(NO_EMBED, url=self.url)
        return embed

    def _parts(self, talk_id: str, tags: dict[str, str]) -> tuple | None:
        """(slides JSON, slides XML, service data, extra) once the player has fetched them all."""
        timings = self._timings(talk_id, tags)
        if timings is None:
            return None
        json_text, xml_text, clips = timings
        service = self._optional(_service_data(talk_id), "video slides' service data") if clips else None
        if service is PENDING:
            return None
        extra = self._vimeo() if tags["VOD-VIDEO-SERVICE-NAME"].lower() == "vimeo" else {}
        return None if extra is None else (json_text, xml_text, service, extra)

    def _timings(self, talk_id: str, tags: dict[str, str]) -> tuple | None:
        """slides.json, and the XML only when the JSON is missing or unusable (as protocol.fetch_timings)."""
        json_text = xml_text = None
        json_url, xml_url = tags.get("VOD-SLIDES-JSON-URL"), tags.get("VOD-SLIDES-XML-URL")
        if json_url and (json_text := self._optional(_at(json_url), "slides JSON")) is PENDING:
            return None
        if json_text is not None:
            try:
                return json_text, None, yoda_clip_ids(parse_slides_json(json_text, talk_id))
            except SiteChangedError as e:
                self._once(logging.WARNING, "%s; trying the slides XML", e)
        if xml_url and (xml_text := self._optional(_at(xml_url), "slides XML")) is PENDING:
            return None
        return json_text, xml_text, []

    def _vimeo(self) -> dict[str, str] | None:
        """{"vimeo_src": …} once the player has added its Vimeo iframe (or the page settled without one)."""
        if self.log.find(lambda e: e.kind == "Document" and _host(e.url) == "player.vimeo.com") is None:
            self.waiting_for = "the Vimeo player iframe"
            return {} if self.settled() else None
        src = self._vimeo_src()
        return {"vimeo_src": src} if src else {}

    def _vimeo_src(self) -> str | None:
        driver = self.chromium.driver
        iframes = driver.find_elements(By.TAG_NAME, "iframe")
        frames = [f for f in iframes if parse_talk_url(f.get_attribute("src") or "")]
        try:
            if frames:
                driver.switch_to.frame(frames[0])
            found = driver.find_elements(By.CSS_SELECTOR, "iframe[src*='player.vimeo.com']")
            return found[0].get_attribute("src") if found else None
        finally:
            driver.switch_to.default_content()

    def _over(self, test: Callable[[Exchange], bool], what: str) -> tuple[Exchange, str | None] | None:
        """(exchange, body when it answered 200) of the first request passing ``test``, once it is over."""
        found = self.log.find(lambda e: test(e) and not (e.error or "").startswith("net::ERR_ABORTED"))
        if found is None or found[1].status is None and not found[1].error:
            self.waiting_for = f"the {what}"
            return None
        request_id, exchange = found
        if exchange.error:
            raise NetworkError(f"could not fetch the {what}: {exchange.error}", url=exchange.url)
        if exchange.status == 200 and not exchange.done:
            self.waiting_for = f"the end of the {what}"
            return None
        return exchange, self._body(request_id, what) if exchange.status == 200 else None

    def _optional(self, test: Callable[[Exchange], bool], what: str) -> object:
        """The body of a 200 answer; None for 4xx (as web.get_text(optional=True)); PENDING until then."""
        if (over := self._over(test, what)) is None:
            return PENDING
        exchange, body = over
        if exchange.status == 200:
            return body
        if 400 <= exchange.status < 500:  # type: ignore[operator]
            self._once(logging.INFO, "no %s: HTTP %s from %s", what, exchange.status, exchange.url)
            return None
        raise NetworkError(f"the {what} answered HTTP {exchange.status}", url=exchange.url)

    def _once(self, level: int, message: str, *args: object) -> None:
        """Log a message the first time a poll meets it (later polls walk the same steps again)."""
        if (key := message % args) not in self.told:
            self.told.add(key)
            log.log(level, message, *args)

    def _body(self, request_id: str, what: str) -> str:
        if request_id not in self.bodies:
            body = self.chromium.body(request_id)
            if body is None:
                raise BrowserError(f"Chromium no longer holds the {what}'s body", url=self.url)
            self.bodies[request_id] = body
        return self.bodies[request_id]


def _check_embed(talk_id: str, embed: Exchange, parent: str | None) -> None:
    if "domain_not_allowed" in embed.url:
        raise embed_only(talk_id, embed.url, parent)
    if embed.status == 404:
        raise NotFoundError(f"no SlidesLive talk with id {talk_id} (HTTP 404); check the URL")
    if embed.status != 200:
        raise NetworkError(f"the embed page of talk {talk_id} answered HTTP {embed.status}", url=embed.url)


def _check_player(talk_id: str, exchange: Exchange, body: str | None) -> str:
    if exchange.status == 401:
        raise ResolveError(f"talk {talk_id}: player token refused (expired?)", hint="run slidegrab again")
    if exchange.status == 404:
        raise NotFoundError(f"no SlidesLive talk with id {talk_id} (HTTP 404 from the player); check the URL")
    if exchange.status != 200 or body is None:
        what = f"the player response of talk {talk_id}"
        raise NetworkError(f"{what} answered HTTP {exchange.status}", url=exchange.url)
    return body


def _embed_document(e: Exchange) -> bool:
    return e.kind == "Document" and parse_talk_url(e.first_url) is not None


def _player(talk_id: str) -> Callable[[Exchange], bool]:
    return lambda e: _host(e.url) == "slideslive.com" and urlsplit(e.url).path == f"/player/{talk_id}"


def _service_data(talk_id: str) -> Callable[[Exchange], bool]:
    path = f"/player/{talk_id}/slides_video_service_data"
    return lambda e: _host(e.url) == "slideslive.com" and urlsplit(e.url).path == path


def _at(url: str) -> Callable[[Exchange], bool]:
    wanted = url.split("#", 1)[0]
    return lambda e: e.url.split("#", 1)[0] == wanted


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
