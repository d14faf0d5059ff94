"""Resolve: URL → Talk. The orchestrator of the two ways of resolving (ARCHITECTURE.md "Resolve").

SlidesLive URLs go to the direct protocol client; when it fails for a reason a browser could get round
(anything but an unknown id, a talk that is not on demand, an embed-only refusal, or site data that
leads somewhere slidegrab does not go), and a browser resolver was given, the browser tries. Other URLs
are pages that embed a talk: their static HTML is read first, and when it embeds nothing the browser
renders the page and runs its scripts.

``browser`` is any object with ``resolve(url, referer=None) -> Talk`` (``resolve.browser.BrowserResolver``).
"""

from __future__ import annotations

from typing import Protocol

import requests

from slidegrab.errors import EmbedOnlyError, NotFoundError, NotVodError, SlidegrabError, UnsafeContentError
from slidegrab.net import NetConfig
from slidegrab.resolve.conference import NoEmbedError, resolve_page
from slidegrab.resolve.protocol import resolve_direct
from slidegrab.resolve.web import log
from slidegrab.talk import Talk
from slidegrab.urls import parse_talk_url, validate_url

FINAL = (NotFoundError, NotVodError, EmbedOnlyError, UnsafeContentError)  # a browser would meet the same answer


class Browser(Protocol):
    def resolve(self, url: str, referer: str | None = None) -> Talk: ...


def resolve(
    url: str,
    net: NetConfig,
    *,
    referer: str | None = None,
    session: requests.Session | None = None,
    browser: Browser | None = None,
) -> Talk:
    """The Talk a URL names (a SlidesLive URL) or embeds (a conference page)."""
    url = validate_url(url)
    referer = validate_url(referer) if referer else None
    own = session is None
    session = session or net.session()
    try:
        if talk_url := parse_talk_url(url):
            return _with_browser(
                lambda: resolve_direct(talk_url, session, referer=referer), url, referer, browser
            )
        return _with_browser(lambda: resolve_page(url, session, referer=referer), url, referer, browser)
    finally:
        if own:
            session.close()


def _with_browser(direct, url: str, referer: str | None, browser: Browser | None) -> Talk:
    try:
        return direct()
    except FINAL:
        raise
    except NoEmbedError as e:
        if browser is None:
            raise NoEmbedError(
                "no SlidesLive talk found on this page (it embeds none in its HTML, and without a browser "
                "its scripts were not run)",
                url=url,
            ) from e
        log.info("%s embeds no talk in its HTML; rendering it in the browser", url)
        return browser.resolve(url, referer=referer)
    except SlidegrabError as e:
        if browser is None:
            raise
        log.warning("direct resolution failed (%s); trying the browser", e)
        return browser.resolve(url, referer=referer)
