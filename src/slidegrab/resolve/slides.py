"""Slide timing files (slides.json, {id}.xml) → Slides with exact starts and image URLs (protocol §6, §7).

Times are milliseconds on the wire and seconds here, kept exact (ms / 1000; yt-dlp floors them).
Image URLs follow the scheme the site's own player uses:
  JSON with slide_qualities → cdn.slideslive.com/data/presentations/{id}/slides/{quality}/{name}{ext or .jpg}
  JSON without              → {slides host}/{id}/slides/original/{name}{ext or .png}
                              (the rs.slideslive.com resizer: /{id}/slides/{name}{ext}?h=1080&f={ext})
  XML                       → cdn.slideslive.com/data/presentations/{id}/slides/big/{name}.jpg
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from slidegrab.errors import SiteChangedError
from slidegrab.talk import Slide, VideoClip

DEFAULT_SLIDES_HOST = "slides.slideslive.com"
RESIZER_HOST = "rs.slideslive.com"
LEGACY_CDN = "https://cdn.slideslive.com/data/presentations"
_EXT = re.compile(r"\.[A-Za-z0-9]{1,5}")
HINT = "SlidesLive may have changed its site; please report it"


def changed(message: str, talk_id: str) -> SiteChangedError:
    return SiteChangedError(f"talk {talk_id}: {message}", hint=HINT)


def _short(error: Exception) -> str:
    """A parser's complaint, on one line and short (it may quote the hostile input)."""
    text = " ".join(str(error).split())
    return text if len(text) <= 120 else text[:119] + "…"


def parse_slides_json(
    text: str, talk_id: str, *, slides_host: str | None = None, clip_hosts: dict[str, str] | None = None
) -> list[Slide]:
    """Slides from slides.json; a body of another shape raises SiteChangedError naming the field."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:  # RecursionError: nested deeper than the interpreter's stack
        raise changed(f"slides.json is not JSON ({_short(e)})", talk_id) from None
    if not isinstance(data, dict) or not isinstance(data.get("slides"), list):
        raise changed("slides.json: slides missing", talk_id)
    qualities = data.get("slide_qualities") or []
    if not isinstance(qualities, list) or not all(isinstance(q, str) and q.isalnum() for q in qualities):
        raise changed("slides.json: slide_qualities is not a list of names", talk_id)
    where = _ImageWhere(talk_id, qualities[0] if qualities else None, slides_host or DEFAULT_SLIDES_HOST)
    return [
        _json_slide(entry, index, talk_id, where, clip_hosts or {}) for index, entry in enumerate(data["slides"], 1)
    ]


def parse_slides_xml(text: str, talk_id: str) -> list[Slide] | None:
    """Slides from {id}.xml; None for an S3-style <Error> document (the file is absent, in effect)."""
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, RecursionError) as e:  # also: entity bombs (expat refuses them)
        raise changed(f"slides XML is not XML ({_short(e)})", talk_id) from None
    if root.tag == "Error":
        return None
    if root.tag != "videoContent":
        raise changed(f"slides XML: root <{root.tag}>, expected <videoContent>", talk_id)
    return [_xml_slide(el, index, talk_id) for index, el in enumerate(root.findall("slide"), 1)]


def parse_clip_hosts(text: str, talk_id: str) -> dict[str, str]:
    """clip id → first video server, from /player/{id}/slides_video_service_data."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise changed(f"slides_video_service_data is not JSON ({_short(e)})", talk_id) from None
    if not isinstance(data, dict):
        raise changed("slides_video_service_data is not an object", talk_id)
    hosts = {}
    for clip_id, info in data.items():
        servers = info.get("video_servers") if isinstance(info, dict) else None
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise changed(f"slides_video_service_data: {clip_id}.video_servers missing", talk_id)
        hosts[clip_id] = servers[0]
    return hosts


def yoda_clip_ids(slides: list[Slide]) -> list[str]:
    """The ids of the video slides whose hosts slides_video_service_data must name."""
    return [s.video.id for s in slides if s.video and s.video.service == "yoda"]


class _ImageWhere:
    def __init__(self, talk_id: str, quality: str | None, host: str):
        self.talk_id, self.quality, self.host = talk_id, quality, host
        self.default_ext = ".jpg" if quality else ".png"

    def url(self, name: str, ext: str) -> str:
        name = quote(name, safe="")
        if self.quality:
            return f"{LEGACY_CDN}/{self.talk_id}/slides/{self.quality}/{name}{ext}"
        if self.host == RESIZER_HOST:
            return f"https://{self.host}/{self.talk_id}/slides/{name}{ext}?h=1080&f={ext[1:]}"
        return f"https://{self.host}/{self.talk_id}/slides/original/{name}{ext}"


def _json_slide(entry: Any, index: int, talk_id: str, where: _ImageWhere, clip_hosts: dict[str, str]) -> Slide:
    path = f"slides.json: slides[{index - 1}]"
    if not isinstance(entry, dict):
        raise changed(f"{path} is not an object", talk_id)
    start = _seconds(entry.get("time"), f"{path}.time", talk_id)
    if entry.get("type") == "video" or ("image" not in entry and "video" in entry):
        clip = _clip(entry.get("video"), f"{path}.video", talk_id, clip_hosts)
        return Slide(index, start, name="", ext="", image_url=None, kind="video", video=clip)
    image = entry.get("image")
    if not isinstance(image, dict):
        raise changed(f"{path} has neither image nor video", talk_id)
    name = image.get("name")
    if not isinstance(name, str) or not name:
        raise changed(f"{path}.image.name missing", talk_id)
    ext = _extension(image.get("extname"), where.default_ext, f"{path}.image.extname", talk_id)
    return Slide(index, start, name=name, ext=ext, image_url=where.url(name, ext))


def _clip(video: Any, path: str, talk_id: str, clip_hosts: dict[str, str]) -> VideoClip:
    if not isinstance(video, dict) or not isinstance(video.get("id"), str) or not video["id"]:
        raise changed(f"{path}.id missing", talk_id)
    service = str(video.get("service") or "yoda").lower()
    duration_ms = video.get("duration_ms")
    duration = (
        duration_ms / 1000 if isinstance(duration_ms, (int, float)) and not isinstance(duration_ms, bool) else 0.0
    )
    host = clip_hosts.get(video["id"]) if service == "yoda" else None
    url = f"https://{host}/{video['id']}/master.m3u8" if host else None
    return VideoClip(service=service, id=video["id"], duration=duration, url=url)


def _extension(value: Any, default: str, path: str, talk_id: str) -> str:
    if value in (None, ""):
        return default
    ext = value if isinstance(value, str) and value.startswith(".") else f".{value}"
    if not _EXT.fullmatch(ext):
        raise changed(f"{path} is {value!r}, not a file extension", talk_id)
    return ext


def _seconds(value: Any, path: str, talk_id: str) -> float:
    """Milliseconds (a number or a numeric string) → seconds, exactly."""
    return _number(value, path, talk_id) / 1000


def _number(value: Any, path: str, talk_id: str) -> float:
    if value is None:
        raise changed(f"{path} missing", talk_id)
    try:
        ms = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        ms = float("nan")
    if not 0 <= ms < float("inf"):
        raise changed(f"{path} is {value!r}, not a time", talk_id)
    return ms


def _xml_slide(el: ET.Element, index: int, talk_id: str) -> Slide:
    path = f"slides XML: slide[{index - 1}]"
    name = (el.findtext("slideName") or "").strip()
    if not name:
        raise changed(f"{path}.slideName missing", talk_id)
    ms, sec = (el.findtext("time") or "").strip(), (el.findtext("timeSec") or "").strip()
    if ms or not sec:
        start = _seconds(ms or None, f"{path}.time", talk_id)
    else:
        start = _number(sec, f"{path}.timeSec", talk_id)
    url = f"{LEGACY_CDN}/{talk_id}/slides/big/{quote(name, safe='')}.jpg"
    return Slide(index, start, name=name, ext=".jpg", image_url=url)
