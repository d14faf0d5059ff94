"""The headless-Chromium resolver: load the page as a person's browser would, read what the player fetched.

For a SlidesLive URL the browser loads the embed page (with the parent page, when one is known, as a
parent page's iframe would); for any other URL it loads that page and lets its scripts build the player
iframe (``embed_presentation.js`` → ``/embed/init`` → iframe). Either way it waits, polling the network
log, until the embed page, the ``/player/{id}`` response and the slide timings the player asked for have
answered, reads their bodies through CDP, and hands them to ``player.assemble`` exactly as the direct
client does, so both give the same Talk. One browser serves many pages. A page job whose browser died under
it (a crash, a kill, a renderer that stopped answering) or whose page never finished (a request that stalled
past the timeout) is run once more in a fresh browser; a second failure is reported in one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

import requests
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

from slidegrab.errors import BrowserError, NetworkError, ResolveError, SlidegrabError
from slidegrab.net import NetConfig, get_whole
from slidegrab.resolve.browser_capture import PageCapture, PageSettled
from slidegrab.resolve.captured import Captured
from slidegrab.resolve.chromium import Chromium, first_line
from slidegrab.resolve.conference import find_embeds
from slidegrab.resolve.player import assemble
from slidegrab.resolve.web import log, text_of
from slidegrab.safety import PAGE_BYTES
from slidegrab.talk import Talk
from slidegrab.urls import embed_url, origin_of, parse_talk_url

T = TypeVar("T")
PAGE_TIMEOUT_S = 30.0  # a page, and what its player fetches, must have answered within this
POLL_S = 0.1
CHECK_WORKERS = 4
_NOT_PAGES = re.compile(r"\.(?:json|xml|pdf|png|jpe?g|gif|webp|svg|zip|css|js|mp4|m4a|mp3)$", re.I)
_LINKS = "return Array.from(document.querySelectorAll('a[href]'), a => a.href);"


class BrowserResolver:
    """``resolve(url)`` → Talk and ``discover(page)`` → talk links, through one reused Chromium.

    One page at a time (callers share it under a lock); ``close()`` or ``with`` ends the browser, ``abort()``
    (from any thread) ends it at once."""

    def __init__(self, net: NetConfig, *, timeout: float | None = None):
        self.net = net
        self.timeout = timeout or PAGE_TIMEOUT_S
        self._chromium: Chromium | None = None
        self._session: requests.Session | None = None
        self._aborted = False

    def resolve(self, url: str, referer: str | None = None) -> Talk:
        """The Talk at a SlidesLive URL, or the one a page embeds; ``referer`` unlocks embed-only talks."""
        return assemble(self.capture(url, referer), self.session)

    def capture(self, url: str, referer: str | None = None) -> Captured:
        """What the page's player fetched (the raw material of ``resolve``), plus the Vimeo iframe src.
        The player does not retry a request that failed, so the page is loaded once more after one."""
        target, parent = _target(url, referer)
        try:
            return self._run(url, lambda chromium: self._capture(chromium, target, parent))
        except NetworkError as e:
            log.warning("%s; loading the page once more", e)
        return self._run(url, lambda chromium: self._capture(chromium, target, parent))

    def discover(self, page_url: str) -> list[str]:
        """The talks a page shows once its scripts have run, in page order: those it embeds itself (as
        embed URLs), the SlidesLive talks it links to, and its same-site pages that embed a talk."""
        html, links = self._run(page_url, lambda chromium: self._rendered(chromium, page_url))
        talks, candidates = _split_links(find_embeds(html, page_url) + links, page_url)
        checks = sorted(candidates)
        with ThreadPoolExecutor(CHECK_WORKERS) as pool:
            embeds = dict(zip(checks, pool.map(self._embeds_a_talk, checks), strict=True))
        return [link for link in talks if link not in candidates or embeds[link]]

    def processes(self) -> list[int]:
        """The pids of chromedriver and the Chromium under it ([] while no browser runs)."""
        return self._chromium.pids() if self._chromium is not None else []

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self.net.session()
        return self._session

    def abort(self) -> None:
        """Ctrl-C: kill the browser now, from any thread. The page job in flight fails as interrupted
        instead of restarting it, and no other browser is started; ``close`` still cleans up."""
        self._aborted = True
        if (chromium := self._chromium) is not None:
            chromium.kill()

    def close(self) -> None:
        """Quit the browser (and every process it started) and close the HTTP session."""
        if self._chromium is not None:
            self._chromium.quit()
            self._chromium = None
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> BrowserResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, url: str, job: Callable[[Chromium], T]) -> T:
        """Run a page job; when the browser died under it or the page never finished, retry once in a new one."""
        for attempt in (1, 2):
            chromium = self._browser(url)
            try:
                return job(chromium)
            except Exception as e:
                if self._aborted:  # the browser was killed under the job on purpose
                    raise BrowserError("interrupted", url=url) from None
                self._recover(chromium, url, e, last=attempt == 2)
        raise AssertionError("unreachable")

    def _recover(self, chromium: Chromium, url: str, error: Exception, *, last: bool) -> None:
        """After a failed page job: raise what to report, or quit the browser so that the job runs again in a
        new one. A browser that died or hung is quit in any case."""
        if isinstance(error, PageStalled):
            if last:
                raise error
            log.warning("%s; loading the page once more in a new Chromium", error)
        elif not isinstance(error, WebDriverException):
            raise error
        elif not isinstance(error, _Hung) and chromium.alive():
            raise BrowserError(f"Chromium failed: {first_line(error)}", url=url) from error
        elif not last:
            log.warning("Chromium died (%s); starting a new one", first_line(error))
        self._chromium = None
        chromium.quit()
        if last:
            raise BrowserError(f"Chromium died twice in a row ({first_line(error)})", url=url) from error

    def _browser(self, url: str) -> Chromium:
        if self._chromium is None and not self._aborted:
            self._chromium = Chromium(self.net, timeout=self.timeout)
        if self._aborted:  # checked after the start too: an abort may come while Chromium starts
            raise BrowserError("interrupted", url=url)
        return self._chromium

    def _open(self, chromium: Chromium, url: str) -> None:
        """Navigate, with the network log drained of whatever the previous page left behind."""
        chromium.load("about:blank")
        chromium.events()
        try:
            chromium.load(url)
        except TimeoutException:
            if not chromium.alive():  # hung, not slow: let _run start a new browser
                raise _Hung("Chromium stopped responding") from None
            raise PageStalled(f"the page did not load within {self.timeout:g} s", url=url) from None

    def _wait(self, chromium: Chromium, url: str, poll: Callable[[object], T | None], missing) -> T:
        try:
            return WebDriverWait(chromium.driver, self.timeout, POLL_S, ignored_exceptions=()).until(poll)
        except TimeoutException:
            raise PageStalled(f"{missing()} was not seen within {self.timeout:g} s", url=url) from None

    def _capture(self, chromium: Chromium, target: str, parent: str | None) -> Captured:
        self._open(chromium, target)
        capture = PageCapture(chromium, target, parent)
        return self._wait(chromium, target, capture.poll, lambda: capture.waiting_for)

    def _rendered(self, chromium: Chromium, page_url: str) -> tuple[str, list[str]]:
        """The page's DOM as HTML, and its links, once it has finished rendering."""
        self._open(chromium, page_url)
        settled = PageSettled(chromium, page_url)
        self._wait(chromium, page_url, settled, lambda: "a rendered page with nothing in flight")
        return chromium.driver.page_source, chromium.driver.execute_script(_LINKS)

    def _embeds_a_talk(self, page_url: str) -> bool:
        try:
            response = get_whole(self.session, page_url, limit=PAGE_BYTES)  # retried, capped like any page
        except (requests.RequestException, SlidegrabError) as e:
            log.info("discover: skipping %s (%s)", page_url, type(e).__name__)
            return False
        ok = response.status_code == 200 and "html" in response.headers.get("Content-Type", "html")
        return ok and bool(find_embeds(text_of(response), response.url))


class PageStalled(ResolveError):
    """Something the page needed did not answer within the timeout: loaded once more, then reported."""

    def __init__(self, message: str, *, url: str):
        super().__init__(message, url=url, hint="try again later")


class _Hung(WebDriverException):
    """The page load timed out and the browser no longer answers: a hung renderer, not a slow page."""


def _target(url: str, referer: str | None) -> tuple[str, str | None]:
    """What to load, and the parent page: a talk URL becomes its embed page, sent from its parent."""
    talk = parse_talk_url(url)
    if talk is None:
        return url, None  # a page that embeds the talk; it is its own parent
    parent = talk.parent or referer
    origin = talk.origin or (origin_of(parent) if parent else None)
    return embed_url(talk.id, parent, origin), parent


def _split_links(links: list[str], page_url: str) -> tuple[list[str], set[str]]:
    """Links in page order, each talk and page once; and which of them are same-site pages to check."""
    page = urlsplit(page_url)
    site = _site(page.hostname)
    ordered: dict[str, str] = {}
    candidates: set[str] = set()
    for link in links:
        link = link.split("#", 1)[0]
        parts = urlsplit(link)
        if talk := parse_talk_url(link):
            ordered.setdefault(f"talk:{talk.id}", link)
        elif _same_site_page(parts, site) and link != page_url:
            ordered.setdefault(link, link)
            candidates.add(link)
    return list(ordered.values()), candidates


def _same_site_page(parts: SplitResult, site: str) -> bool:
    """An http(s) link on the listing's own site that may be an HTML page (not a PDF, image, data …)."""
    return parts.scheme in ("http", "https") and _site(parts.hostname) == site and _NOT_PAGES.search(parts.path) is None


def _site(host: str | None) -> str:
    host = (host or "").lower()
    return host[4:] if host.startswith("www.") else host
