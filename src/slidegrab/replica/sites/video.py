"""Media hosts: the yoda CDN (HLS/DASH of talks and of video-slide clips, on every VOD-VIDEO-SERVERS host),
the direct-file host of "url" talks, and the S3 bucket of presigned subtitle VTTs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slidegrab.replica.fixtures import yoda_video_id
from slidegrab.replica.sites import documents, urls
from slidegrab.replica.sites.common import Site, file_response, not_found, s3_error, safe_child
from slidegrab.replica.wire import Request, Response

if TYPE_CHECKING:
    from slidegrab.replica.app import App


class Yoda(Site):
    hosts = urls.YODA_SERVERS
    routes = ((r"/(?P<video_id>[A-Za-z0-9_-]+)/(?P<file>[^/]+)", "file"),)

    def __init__(self, app: App):
        super().__init__(app)
        self._talks = {yoda_video_id(f): f for f in app.catalogue if f.service == "yoda"}
        self._clips = {s.video_id: f for f in app.catalogue for s in f.slides if s.kind == "video"}

    def file(self, request: Request, video_id: str, file: str) -> Response:
        if video_id in self._talks:
            folder = self.app.media(self._talks[video_id]).hls_dir
        elif video_id in self._clips:
            folder = self.app.media(self._clips[video_id]).clip_hls_dir(video_id)
        else:
            return not_found()
        path = safe_child(folder, file)
        return file_response(path) if path else not_found()


class Files(Site):
    hosts = (urls.DIRECT_FILES, urls.SUBTITLES)
    routes = (
        (r"/videos/(?P<presentation_id>\d+)/[^/]+\.mp4", "direct"),
        (r"/(?P<sid>\d+)/subtitles\.vtt", "subtitles"),
    )

    def direct(self, request: Request, presentation_id: str) -> Response:
        f = self.app.fixture(presentation_id)
        if request.host != urls.DIRECT_FILES or f is None or f.service != "url" \
                or urls.video_service_id(f).split("?")[0] != request.url.split("?")[0]:
            return not_found()
        return file_response(self.app.media(f).progressive_mp4)

    def subtitles(self, request: Request, sid: str) -> Response:
        f = next((f for f in self.app.catalogue if f.subtitles and str(urls.subtitles_id(f)) == sid), None)
        if request.host != urls.SUBTITLES or f is None:
            return s3_error("NoSuchKey", "The specified key does not exist.", 404)
        problem = documents.presigned_problem(int(sid), request.query, self.app.secret, self.app.now())
        if problem:
            code = "SignatureDoesNotMatch" if "signature" in problem else "AccessDenied"
            return s3_error(code, problem)
        return file_response(self.app.media(f).vtt)
