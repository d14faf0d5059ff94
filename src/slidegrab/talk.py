"""The data model that crosses every stage: a Talk, its Slides, its MediaSource, its Subtitles.

Plain, frozen data. Resolvers build it; later stages read it from ``talk.json`` in the talk folder.
Times are seconds (floats) from the start of the talk's video.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VideoClip:
    """A slide that is a short video clip instead of an image (``type: video`` in slides.json)."""

    service: str
    id: str
    duration: float
    url: str | None = None  # the clip's manifest (yoda master.m3u8), when the service data named a host


@dataclass(frozen=True)
class Slide:
    index: int  # 1-based, deck order
    start: float  # seconds
    name: str  # the site's image name ("00001", "0-0001", "NYwM7n6tp4WqIH8o" …), "" for video slides
    ext: str  # ".png", ".jpg", ".webp"; the extension the site declares
    image_url: str | None  # None for video slides
    kind: str = "image"  # "image" or "video"
    video: VideoClip | None = None


@dataclass(frozen=True)
class MediaSource:
    service: str  # "yoda", "vimeo", "youtube" or "url"
    id: str  # the service's id (yoda path, Vimeo id, YouTube id, or the media URL itself)
    url: str  # what yt-dlp is given
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Referer for embed-only Vimeo


@dataclass(frozen=True)
class Subtitle:
    language: str
    name: str
    url: str


@dataclass(frozen=True)
class Talk:
    id: str
    url: str  # canonical https://slideslive.com/{id}
    title: str
    media: MediaSource
    slides: tuple[Slide, ...] = ()
    speakers: tuple[str, ...] = ()
    conference: str | None = None
    page_url: str | None = None  # the page the talk was resolved from when it is not SlidesLive's own
    duration: float | None = None  # seconds, from the media manifests
    start_offset: float = 0.0  # seconds into the recording where the presentation starts
    subtitles: tuple[Subtitle, ...] = ()
    thumbnail: str | None = None
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Talk:
        slides = tuple(
            Slide(**{**s, "video": VideoClip(**s["video"]) if s.get("video") else None}) for s in data.get("slides", ())
        )
        return cls(
            **{
                **data,
                "media": MediaSource(**data["media"]),
                "slides": slides,
                "speakers": tuple(data.get("speakers", ())),
                "subtitles": tuple(Subtitle(**s) for s in data.get("subtitles", ())),
            }
        )

    def slide_intervals(self) -> list[tuple[float, float]]:
        """(start, end) per slide: each ends where the next begins, the last at the talk's end."""
        starts = [s.start for s in self.slides]
        ends = starts[1:] + [max(self.duration or 0.0, starts[-1] if starts else 0.0)]
        return list(zip(starts, ends, strict=True))


def temp_path(target: Path) -> Path:
    """A fresh hidden name beside ``target`` (``.name.<random>.part``), for writing before a rename."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
