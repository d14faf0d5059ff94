"""One exception hierarchy for everything slidegrab expects to go wrong.

    SlidegrabError                 (exit 1)
    ├── UsageError                 (exit 2)  bad option values, malformed URLs, unreadable URL lists
    ├── NetworkError               (exit 3)  a request failed after its retries
    │   └── TokenExpired                     a signed URL refused (403/410): the talk is resolved again once
    ├── ResolveError               (exit 4)  a page or player response did not give a talk
    │   ├── NotFoundError                    unknown id (404)
    │   ├── EmbedOnlyError                   the talk only plays under an allowed parent page
    │   ├── NotVodError                      live, upcoming or not yet processed
    │   ├── SiteChangedError                 a response lacks a field we need (names the field)
    │   └── UnsafeContentError               site data leads off the public web (file://, loopback …)
    ├── BrowserError               (exit 5)  Chromium or chromedriver failed
    └── MediaError                 (exit 6)  a download that is not media, ffmpeg or yt-dlp failing on it

Expected failures print one line (``str(error)``); anything else is a bug and asks for ``-v``.
Every message says which talk (or URL), what went wrong, and, where there is one, what to do.
"""

from __future__ import annotations


class SlidegrabError(Exception):
    code = 1

    def __init__(self, message: str, *, url: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.url = url
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.url}: {self.message}" if self.url else self.message
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(SlidegrabError):
    code = 2


class NetworkError(SlidegrabError):
    code = 3


EXPIRED_STATUSES = (403, 410)  # how a CDN refuses a signed URL whose token has expired


class TokenExpired(NetworkError):
    """A slide, media or subtitle URL answered 403 or 410. Such URLs come from the player response and may
    be signed with a token that expires; the pipeline resolves the talk again (once) for fresh ones."""


class ResolveError(SlidegrabError):
    code = 4


class NotFoundError(ResolveError):
    pass


class EmbedOnlyError(ResolveError):
    pass


class NotVodError(ResolveError):
    pass


class SiteChangedError(ResolveError):
    pass


class UnsafeContentError(ResolveError):
    """A response that slidegrab refuses to follow or keep: a URL or redirect to a local or non-web address,
    a body past its size cap. Retrying cannot help, and neither can the browser."""


class BrowserError(SlidegrabError):
    code = 5


class MediaError(SlidegrabError):
    code = 6
