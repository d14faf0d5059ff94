"""How resolvers read a resource: through the shared session, with errors that say what failed."""

from __future__ import annotations

import logging

import requests

from slidegrab.errors import NetworkError
from slidegrab.net import fetch

log = logging.getLogger("slidegrab.resolve")
ANY_STATUS = tuple(range(100, 600))


def get(
    session: requests.Session, url: str, *, what: str, headers: dict[str, str] | None = None, **kw
) -> requests.Response:
    """GET with any status returned (the caller decides); connection failures become NetworkError."""
    return fetch(session, url, what=what, ok=ANY_STATUS, headers=headers or {}, **kw)


def get_text(
    session: requests.Session,
    url: str,
    *,
    what: str,
    headers: dict[str, str] | None = None,
    optional: bool = False,
) -> str | None:
    """The body of a 200 answer as text. With ``optional``, a 4xx answer gives None instead of an error (but
    not 429, which says "later", not "missing": it is an error once the retries are spent)."""
    response = get(session, url, what=what, headers=headers)
    if response.status_code == 200:
        return text_of(response)
    if optional and 400 <= response.status_code < 500 and response.status_code != 429:
        log.info("no %s: HTTP %s from %s", what, response.status_code, url)
        return None
    raise NetworkError(f"the {what} answered HTTP {response.status_code}", url=url)


def text_of(response: requests.Response) -> str:
    """Decode as the server declares, else as UTF-8 (requests would assume ISO-8859-1 for text/*)."""
    declared = "charset=" in response.headers.get("Content-Type", "").lower()
    return response.content.decode(
        response.encoding if declared and response.encoding else "utf-8", "replace"
    )
