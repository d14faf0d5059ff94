"""Where the replica publishes each fixture's pieces: host names and URL builders, one place for all sites."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, timedelta, timezone

from slidegrab.replica.fixtures import Fixture, FixtureSlide, slide_name, yoda_video_id

SLIDESLIVE = "slideslive.com"
BEN = "ben.slideslive.com"
LEGACY_DATA_HOSTS = ("cdn.slideslive.com", "d2ygwrecguqg66.cloudfront.net")  # under /data/presentations/
TIMING_HOSTS = ("s.slideslive.com", "slides.slideslive.com", *LEGACY_DATA_HOSTS)
RESIZER = "rs.slideslive.com"
BUNNY = "slideslive-slides.b-cdn.net"
THUMBNAILS = "ma.slideslive.com"
YODA_SERVERS = ("1159783934.rsc.cdn77.org", "1511376917.rsc.cdn77.org")
SUBTITLES = "slideslive-video-subtitles.s3.amazonaws.com"
DIRECT_FILES = "d3b5ycxkv2bd1q.cloudfront.net"  # the "url" service's media host
VIMEO_PLAYER = "player.vimeo.com"
VIMEO_PROGRESSIVE = "vod-progressive-ak.vimeocdn.com"
VIMEO_ADAPTIVE = "vod-adaptive-ak.vimeocdn.com"
VIMEO_IMAGES = "i.vimeocdn.com"
BULK_UPDATE = datetime(2023, 10, 20, 15, 29, 3, tzinfo=timezone.utc)  # when SlidesLive touched every talk


def slug(title: str, limit: int = 60) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:limit].rstrip("-") or "presentation"


def _digest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def updated_at(f: Fixture) -> datetime:
    return BULK_UPDATE + timedelta(seconds=int(_digest(f.id)[:6], 16) % 3600)


def cache_buster(f: Fixture) -> int:
    return int(updated_at(f).timestamp()) - 42_000_000  # slides were uploaded long before the bulk update


def public_url(f: Fixture) -> str:
    return f"https://{SLIDESLIVE}/{f.id}/{slug(f.title)}"


def embed_url(f: Fixture) -> str:
    return f"https://{SLIDESLIVE}/embed/presentation/{f.id}"


def timings_base(f: Fixture) -> str:
    data = "/data/presentations" if f.timings_host in LEGACY_DATA_HOSTS else ""
    return f"https://{f.timings_host}{data}/{f.id}/v{f.slides_version}"


def slides_json_url(f: Fixture) -> str | None:
    return f"{timings_base(f)}/slides.json?{cache_buster(f)}" if f.timings in ("json", "both") else None


def slides_xml_url(f: Fixture) -> str | None:
    return f"{timings_base(f)}/{f.id}.xml?{cache_buster(f)}" if f.timings in ("xml", "both") else None


def thumbnail_url(f: Fixture) -> str:
    return f"https://{THUMBNAILS}/library/presentations/{f.id}/thumbnail/{slug(f.title)}_{_digest(f.id)[:6]}_big.jpg"


def legacy_cover_url(f: Fixture) -> str:
    return f"https://cdn.slideslive.com/data/presentations/{f.id}/slideslive_{slug(f.title)}.jpg?{cache_buster(f)}"


def direct_video_url(f: Fixture) -> str:
    return f"https://{DIRECT_FILES}/videos/{f.id}/{slug(f.title)}.mp4"


def video_service_id(f: Fixture) -> str:
    """#EXT-SL-VOD-VIDEO-ID: yoda path, Vimeo or YouTube id, or the media URL for "url" talks."""
    if f.service == "url":
        return f.video_id or direct_video_url(f)
    return yoda_video_id(f) if f.service == "yoda" else f.video_id


def subtitles_id(f: Fixture) -> int:
    return 50000 + int(f.id) % 10000


def image_slides(f: Fixture) -> list[tuple[int, FixtureSlide, str]]:
    """(1-based index, slide, CDN name) for every slide that has an image (video slides have none)."""
    return [(i, s, slide_name(f, i - 1)) for i, s in enumerate(f.slides, 1) if s.kind != "video"]


def vimeo_hash(f: Fixture) -> str:
    return _digest(f"vimeo:{f.video_id}")[:10]


def vimeo_progressive_url(f: Fixture) -> str:
    return f"https://{VIMEO_PROGRESSIVE}/{f.video_id}/{vimeo_hash(f)}/rendition/360p/file.mp4"


def vimeo_hls_url(f: Fixture) -> str:
    return f"https://{VIMEO_ADAPTIVE}/{f.video_id}/{vimeo_hash(f)}/playlist/av/primary/master.m3u8"


def vimeo_thumb_url(f: Fixture, width: int) -> str:
    return f"https://{VIMEO_IMAGES}/video/{f.video_id}-{vimeo_hash(f)}-d_{width}"
