"""What every replica site shares: a path router, response builders, templates and static files."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from slidegrab.replica.wire import Request, Response

if TYPE_CHECKING:
    from slidegrab.replica.app import App

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
SAFE_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
FORMAT_EXTS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}


class Site:
    """A group of hosts answered by one set of routes: ``(path regex, method name)``, first match wins."""

    hosts: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()

    def __init__(self, app: App):
        self.app = app
        self._routes: list[tuple[re.Pattern, Callable[..., Response]]] = [
            (re.compile(pattern), getattr(self, name)) for pattern, name in self.routes
        ]

    def hosts_for(self, catalogue: tuple) -> tuple[str, ...]:
        """The hosts this site answers for a given catalogue (most sites: a fixed list)."""
        del catalogue
        return self.hosts

    def handle(self, request: Request) -> Response:
        for pattern, handler in self._routes:
            if match := pattern.fullmatch(request.path):
                return handler(request, **match.groupdict())
        return not_found()


def not_found(what: str = "Not Found") -> Response:
    return Response.text(f"{what}\n", 404)


def html_page(body: str, status: int = 200) -> Response:
    return Response.text(body, status, "text/html; charset=utf-8")


def json_response(value: object, status: int = 200) -> Response:
    return Response.text(json.dumps(value, separators=(",", ":")), status, "application/json; charset=utf-8")


def s3_error(code: str, message: str, status: int = 403) -> Response:
    """An S3-style XML error document, as the slide and subtitle buckets answer."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>5Q3MG8ZP1X0R7T2K</RequestId><HostId>replica</HostId></Error>"
    )
    return Response.text(body, status, "application/xml")


def file_response(path: Path) -> Response:
    """A file streamed from disk (Range honoured by the proxy) with its content type."""
    content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return Response(200, b"", {"Content-Type": content_type}, file=path)


def bytes_response(data: bytes, ext: str) -> Response:
    return Response(200, data, {"Content-Type": CONTENT_TYPES.get(ext, "application/octet-stream")})


def safe_child(folder: Path, name: str) -> Path | None:
    """``folder/name`` if ``name`` is a plain file name that exists there (no traversal), else None."""
    if not SAFE_FILE.fullmatch(name):
        return None
    path = folder / name
    return path if path.is_file() else None


def static_file(name: str) -> Response:
    path = safe_child(STATIC, name)
    return file_response(path) if path else not_found()


def render(template: str, **values: str) -> str:
    """The template with each ``{{name}}`` replaced by its value (callers escape what needs it)."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def attr(text: str) -> str:
    """Escape text for an HTML attribute or element."""
    return html.escape(text, quote=True)


def script_json(value: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
