"""What crosses between the replica's transport (proxy.py) and its sites (app.py): one request, one response."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    url: str  # absolute: https://slideslive.com/player/38900001?player_token=…
    headers: dict[str, str]  # keys lower-cased
    body: bytes = b""

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None  # when set, the body is streamed from this file (Range requests honoured)

    @classmethod
    def text(cls, body: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, body.encode("utf-8"), {"Content-Type": content_type})

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, b"", {"Location": location})
