"""player.vimeo.com for "vimeo" talks, and the vimeocdn hosts that serve its files.

``/video/{id}`` answers 403 with Vimeo's privacy message unless the Referer's host is one the fixture
whitelists (``vimeo_referers``, subdomains included); otherwise a player page carrying
``window.playerConfig = {…};`` in the shape yt-dlp's Vimeo extractor parses: progressive MP4 files and an
HLS master whose audio rendition gives an audio-only format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from slidegrab.replica.fixtures import Fixture
from slidegrab.replica.sites import urls
from slidegrab.replica.sites.common import (
    Site,
    attr,
    file_response,
    html_page,
    not_found,
    safe_child,
    script_json,
)
from slidegrab.replica.wire import Request, Response

if TYPE_CHECKING:
    from slidegrab.replica.app import App

PRIVACY_MESSAGE = "Because of its privacy settings, this video cannot be played here."


class Player(Site):
    hosts = (urls.VIMEO_PLAYER,)
    routes = ((r"/video/(?P<video_id>\d+)/?", "video"),)

    def video(self, request: Request, video_id: str) -> Response:
        f = vimeo_fixture(self.app, video_id)
        if f is None:
            return html_page("<!DOCTYPE html><title>Sorry</title><p>This video does not exist.</p>", 404)
        referer = (urlsplit(request.header("referer") or "").hostname or "").lower()
        if not any(referer == d or referer.endswith("." + d) for d in f.vimeo_referers):
            return html_page(f"<!DOCTYPE html><title>Private video</title><div class=\"exception\">"
                             f"<h1>Private Video</h1><p>{PRIVACY_MESSAGE}</p></div>", 403)
        duration = round(self.app.media(f).duration)
        config = player_config(f, duration)
        title, mp4 = attr(f"{f.title} from SlidesLive on Vimeo"), attr(urls.vimeo_progressive_url(f))
        return html_page(
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head><body>'
            f'<div id="player"><video controls preload="none" src="{mp4}"></video></div>\n'
            f"<script>window.playerConfig = {script_json(config)};</script>\n</body></html>"
        )


class Cdn(Site):
    hosts = (urls.VIMEO_PROGRESSIVE, urls.VIMEO_ADAPTIVE, urls.VIMEO_IMAGES)
    routes = (
        (r"/(?P<video_id>\d+)/(?P<digest>\w+)/rendition/360p/file\.mp4", "progressive"),
        (r"/(?P<video_id>\d+)/(?P<digest>\w+)/playlist/av/primary/(?P<file>[^/]+)", "adaptive"),
        (r"/video/(?P<video_id>\d+)-(?P<digest>\w+)-d_(?P<width>\d+)", "thumbnail"),
    )

    def progressive(self, request: Request, video_id: str, digest: str) -> Response:
        f = self._fixture(request, urls.VIMEO_PROGRESSIVE, video_id, digest)
        return file_response(self.app.media(f).progressive_mp4) if f else not_found()

    def adaptive(self, request: Request, video_id: str, digest: str, file: str) -> Response:
        f = self._fixture(request, urls.VIMEO_ADAPTIVE, video_id, digest)
        path = safe_child(self.app.media(f).hls_dir, file) if f else None
        return file_response(path) if path else not_found()

    def thumbnail(self, request: Request, video_id: str, digest: str, width: str) -> Response:
        f = self._fixture(request, urls.VIMEO_IMAGES, video_id, digest)
        if f is None or not 0 < int(width) <= 1920:
            return not_found()
        media = self.app.media(f)
        index = next((i for i, s in enumerate(f.slides, 1) if s.kind != "video"), 1)
        return Response(200, media.render_slide(index, "jpg", None), {"Content-Type": "image/jpeg"})

    def _fixture(self, request: Request, host: str, video_id: str, digest: str) -> Fixture | None:
        f = vimeo_fixture(self.app, video_id)
        return f if f and request.host == host and digest == urls.vimeo_hash(f) else None


def vimeo_fixture(app: App, video_id: str) -> Fixture | None:
    return next((f for f in app.catalogue if f.service == "vimeo" and f.video_id == video_id), None)


def player_config(f: Fixture, duration: int) -> dict:
    """The parts of Vimeo's player config that players and yt-dlp read."""
    width, height = 640, 360
    progressive = [{"profile": 164, "quality": "360p", "width": width, "height": height, "fps": 5,
                    "mime": "video/mp4", "url": urls.vimeo_progressive_url(f), "id": f"{f.video_id}-360p"}]
    hls = {"cdns": {"akfire_interconnect_quic": {"url": urls.vimeo_hls_url(f), "origin": "gcs"}},
           "default_cdn": "akfire_interconnect_quic", "separate_av": False}
    video = {"id": int(f.video_id), "title": f.title, "duration": duration, "width": width, "height": height,
             "privacy": "disable", "embed_code": "", "live_event": None,
             "owner": {"id": 60012345, "name": "SlidesLive", "url": "https://vimeo.com/slideslive"},
             "thumbs": {str(w): urls.vimeo_thumb_url(f, w) for w in (640, 960, 1280)}}
    return {"cdn_url": "https://f.vimeocdn.com", "view": 1, "vimeo_url": "https://vimeo.com",
            "request": {"files": {"progressive": progressive, "hls": hls}, "text_tracks": [],
                        "referrer": "https://slideslive.com/", "lang": "en"},
            "video": video, "embed": {"on_site": 0, "autoplay": 0, "chapters": []}, "user": {"logged_in": 0}}
