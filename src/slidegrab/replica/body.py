"""Turning an app ``Response`` into what goes on the wire: status, headers, and a body to stream.

Bodies come from memory or from a file (streamed in chunks); a ``Range: bytes=…`` request for a 200 answer
gets 206 with that slice, or 416 when the range lies outside the body. Content-Length is always sent.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from slidegrab.replica.wire import Response

CHUNK = 64 * 1024
NO_BODY_STATUSES = {204, 304}
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Payload:
    """``length`` bytes from ``start`` of either ``data`` or ``file``."""

    data: bytes = b""
    file: Path | None = None
    start: int = 0
    length: int = 0

    def write(self, out: BinaryIO, limit: int | None = None) -> None:
        """Send the payload, or only its first ``limit`` bytes."""
        todo = self.length if limit is None else min(limit, self.length)
        if self.file is None:
            out.write(self.data[self.start : self.start + todo])
            return
        with self.file.open("rb") as f:
            f.seek(self.start)
            while todo > 0 and (chunk := f.read(min(CHUNK, todo))):
                out.write(chunk)
                todo -= len(chunk)


@dataclass
class Prepared:
    status: int
    headers: dict[str, str]
    payload: Payload


def prepare(response: Response, range_header: str | None = None) -> Prepared:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_HEADERS}
    if response.status in NO_BODY_STATUSES:
        return Prepared(response.status, headers, Payload())
    payload = _payload(response, headers)
    size = payload.length
    wanted = _parse_range(range_header, size) if response.status == 200 and range_header else None
    if wanted == "unsatisfiable":
        headers = {"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        return Prepared(416, headers, Payload())
    status = response.status
    if wanted:
        start, end = wanted
        payload.start, payload.length = start, end - start + 1
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        status = 206
    headers["Content-Length"] = str(payload.length)
    return Prepared(status, headers, payload)


def _payload(response: Response, headers: dict[str, str]) -> Payload:
    if response.file is None:
        return Payload(data=response.body, length=len(response.body))
    path = Path(response.file)
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers.setdefault("Accept-Ranges", "bytes")
    return Payload(file=path, length=path.stat().st_size)


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single ``bytes=`` range, "unsatisfiable", or None to send everything."""
    match = RANGE.match(header.strip().replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None  # multiple or malformed ranges: a server may answer with the whole body
    first, last = match.groups()
    if first == "":  # suffix: the last N bytes
        n = int(last)
        return (max(size - n, 0), size - 1) if n and size else "unsatisfiable"
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range is ignored
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last), size - 1) if last else size - 1
