"""The replica's sites behind one door: ``App(catalogue, media).serves(host)`` and ``.handle(request)``.

Each site (sites/*.py) answers a group of hosts: SlidesLive itself, its timing, image and video CDNs,
Vimeo, and the conference sites. The app adds what they share: a clock that tests can shift to expire
tokens, the signing secret, fixture lookup, CORS, and 404 for whatever nobody serves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from slidegrab.replica.fixtures import Fixture
from slidegrab.replica.media import MediaStore, TalkMedia
from slidegrab.replica.sites import cdn, conference, slideslive, video, vimeo
from slidegrab.replica.sites.common import Site, not_found
from slidegrab.replica.wire import Request, Response

SITES: tuple[type[Site], ...] = (
    slideslive.SlidesLive, slideslive.Ben, cdn.SlideCdn, video.Yoda, video.Files,
    vimeo.Player, vimeo.Cdn, conference.Conference,
)
CORS_METHODS = "GET, HEAD, POST, PUT, OPTIONS"


class App:
    def __init__(self, catalogue: Iterable[Fixture], media: MediaStore):
        self.catalogue = tuple(catalogue)
        self.media_store = media
        self.time_shift = 0.0  # seconds added to the wall clock (tests move it forward to expire tokens)
        self.secret = os.urandom(32)
        self._by_id = {f.id: f for f in self.catalogue}
        self._sites: dict[str, Site] = {}
        for site_class in SITES:
            site = site_class(self)
            for host in site.hosts_for(self.catalogue):
                self._sites.setdefault(host, site)

    def now(self) -> float:
        return time.time() + self.time_shift

    def fixture(self, presentation_id: str) -> Fixture | None:
        return self._by_id.get(presentation_id)

    def media(self, fixture: Fixture) -> TalkMedia:
        return self.media_store.get(fixture)

    def serves(self, host: str) -> bool:
        return host.lower().rstrip(".") in self._sites

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted(self._sites))

    def handle(self, request: Request) -> Response:
        site = self._sites.get(request.host.rstrip("."))
        if site and request.path == "/favicon.ico":
            response = Response(204, b"", {"Cache-Control": "max-age=86400"})
        elif request.method == "OPTIONS":
            response = Response(204, b"", {"Access-Control-Allow-Methods": CORS_METHODS,
                                           "Access-Control-Allow-Headers": "Content-Type, Range",
                                           "Access-Control-Max-Age": "600"})
        else:
            response = site.handle(request) if site else not_found()
        return _with_cors(request, response)


def _with_cors(request: Request, response: Response) -> Response:
    """Let the player's scripts read what they fetch: echo the Origin with credentials, as SlidesLive does."""
    origin = request.header("origin")
    if "Access-Control-Allow-Origin" not in response.headers:
        response.headers["Access-Control-Allow-Origin"] = origin or "*"
        if origin:
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
    return response
