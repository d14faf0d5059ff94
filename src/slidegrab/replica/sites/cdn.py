"""SlidesLive's static hosts: slide timing files (JSON/XML, current and legacy hosts), slide images on every
host that ever served them (legacy sizes, originals, the rs resizer, the Bunny CDN), and cover thumbnails.

Images are the fixture's real files (media.py); a name asked for with another extension than the slide's
real one is 404, like a missing S3 key. Sizes and formats that a host derives are rendered on the fly.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from slidegrab.replica.fixtures import Fixture, FixtureSlide
from slidegrab.replica.sites import documents, urls
from slidegrab.replica.sites.common import (
    FORMAT_EXTS,
    Site,
    bytes_response,
    file_response,
    not_found,
    s3_error,
)
from slidegrab.replica.wire import Request, Response

if TYPE_CHECKING:
    from slidegrab.replica.app import App

ID = r"(?P<presentation_id>\d+)"
VERSION = r"(?:/v(?P<version>\d+))?"
LEGACY_HEIGHTS = {"big": None, "medium": 360, "small": 180}
SLIDE_HOSTS = (urls.RESIZER, urls.BUNNY, urls.THUMBNAILS)
Found = tuple[Fixture, int, FixtureSlide]  # fixture, 1-based slide index, slide


class SlideCdn(Site):
    hosts = (*urls.TIMING_HOSTS, *SLIDE_HOSTS)
    routes = (
        (rf"(?P<data>/data/presentations)?/{ID}{VERSION}/(?P<file>slides\.json|\d+\.xml)", "timings"),
        (rf"/data/presentations/{ID}/slides/(?P<size>big|medium|small)/(?P<file>[^/]+)", "legacy_image"),
        (rf"/data/presentations/{ID}/slideslive_(?P<file>[^/]+\.jpg)", "legacy_cover"),
        (rf"/{ID}/slides/original/(?P<file>[^/]+)", "original"),
        (rf"/{ID}/slides/big/(?P<file>[^/]+)", "slides_host_big"),
        (rf"/{ID}/slides/(?P<file>[^/]+)", "resized"),
        (rf"/library/presentations/{ID}/thumbnail/(?P<file>[^/]+)", "thumbnail"),
    )

    def __init__(self, app: App):
        super().__init__(app)
        self._renders: dict[tuple, bytes] = {}
        self._lock = threading.Lock()

    # -- timing files --------------------------------------------------------------------------------

    def timings(self, request: Request, presentation_id: str, data: str | None, version: str | None,
                file: str) -> Response:
        f = self.app.fixture(presentation_id)
        legacy_host = request.host in urls.LEGACY_DATA_HOSTS
        known = f is not None and (version is None or int(version) == f.slides_version)
        if not known or bool(data) != legacy_host or request.host not in urls.TIMING_HOSTS:
            return s3_error("NoSuchKey", "The specified key does not exist.", 404)
        if file == "slides.json":
            return _timing_file(f, "json", f.json_status, documents.slides_json(f), "application/json")
        if file != f"{f.id}.xml":
            return s3_error("NoSuchKey", "The specified key does not exist.", 404)
        return _timing_file(f, "xml", f.xml_status, documents.slides_xml(f), "application/xml")

    # -- slide images --------------------------------------------------------------------------------

    def legacy_image(self, request: Request, presentation_id: str, size: str, file: str) -> Response:
        if request.host not in urls.LEGACY_DATA_HOSTS:
            return not_found()
        return self._legacy(presentation_id, file, LEGACY_HEIGHTS[size])

    def slides_host_big(self, request: Request, presentation_id: str, file: str) -> Response:
        if request.host != "slides.slideslive.com":
            return not_found()
        return self._legacy(presentation_id, file, None)

    def _legacy(self, presentation_id: str, file: str, height: int | None) -> Response:
        found = self._slide(presentation_id, file)
        if found is None or not _has_legacy_images(found[0]):
            return s3_error("NoSuchKey", "The specified key does not exist.", 404)
        return self._image(found, None, height)

    def original(self, request: Request, presentation_id: str, file: str) -> Response:
        if request.host not in ("slides.slideslive.com", urls.BUNNY):
            return not_found()
        found = self._slide(presentation_id, file)
        if found is None:
            return not_found()
        size_class = request.arg("class")
        if request.host == urls.BUNNY and size_class is not None:
            if not size_class.isdigit():
                return Response.text("403 Forbidden: unknown image class\n", 403)
            return self._image(found, None, int(size_class))
        return self._image(found, None, None)

    def resized(self, request: Request, presentation_id: str, file: str) -> Response:
        if request.host != urls.RESIZER:
            return not_found()
        found = self._slide(presentation_id, file)
        fmt, height = (request.arg("f") or "").lower(), request.arg("h") or ""
        if found is None:
            return not_found()
        if (fmt and fmt not in FORMAT_EXTS) or (height and not height.isdigit()):
            return Response.text("400 Bad Request: h must be a number, f one of png, jpg, webp\n", 400)
        return self._image(found, fmt or None, int(height) if height else None)

    def thumbnail(self, request: Request, presentation_id: str, file: str) -> Response:
        f = self.app.fixture(presentation_id)
        if request.host != urls.THUMBNAILS or f is None or not urls.thumbnail_url(f).endswith("/" + file):
            return not_found()
        return self._cover(f)

    def legacy_cover(self, request: Request, presentation_id: str, file: str) -> Response:
        f = self.app.fixture(presentation_id)
        if request.host != "cdn.slideslive.com" or f is None or file != f"{urls.slug(f.title)}.jpg":
            return not_found()
        return self._cover(f)

    def _cover(self, f: Fixture) -> Response:
        slides = urls.image_slides(f)
        if not slides:
            return not_found()
        index, slide, _ = slides[0]
        return self._image((f, index, slide), "jpg", 360)

    def _slide(self, presentation_id: str, file: str) -> Found | None:
        """The fixture slide whose CDN name and real extension make ``file``."""
        f = self.app.fixture(presentation_id)
        stem, dot, ext = file.rpartition(".")
        if f is None or not dot:
            return None
        for index, slide, name in urls.image_slides(f):
            if name == stem and slide.ext.lower() == f".{ext.lower()}" and ext == ext.lower():
                return f, index, slide
        return None

    def _image(self, found: Found, fmt: str | None, height: int | None) -> Response:
        """The slide's own file, or a rendering in ``fmt`` no taller than ``height`` (never upscaled)."""
        f, index, slide = found
        native = slide.ext.lstrip(".").lower()
        fmt = {"jpeg": "jpg"}.get(fmt or native, fmt or native)
        if height is not None and height >= slide.size[1]:
            height = None
        media = self.app.media(f)
        if fmt == native and height is None:
            return file_response(media.slide_image(index))
        key = (f.id, index, fmt, height)
        with self._lock:
            data = self._renders.get(key)
        if data is None:
            data = media.render_slide(index, fmt, height)
            with self._lock:
                if len(self._renders) > 256:
                    self._renders.clear()
                self._renders[key] = data
        return bytes_response(data, FORMAT_EXTS[fmt])


def _timing_file(f: Fixture, kind: str, status: int, body: str, content_type: str) -> Response:
    if f.timings not in (kind, "both"):
        return s3_error("AccessDenied", "Access Denied")
    if status != 200:
        return s3_error("AccessDenied", "Access Denied", status)
    return Response.text(body, 200, content_type)


def _has_legacy_images(f: Fixture) -> bool:
    """Decks from the legacy era: the ones with slide_qualities or an XML timing file."""
    return bool(f.slide_qualities) or f.timings in ("xml", "both")
