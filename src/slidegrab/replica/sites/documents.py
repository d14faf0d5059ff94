"""The data documents of a talk: the #EXTM3U player response, slides.json, the XML deck, video-slide data."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from urllib.parse import quote
from xml.sax.saxutils import escape

from slidegrab.replica.fixtures import Fixture, slide_name
from slidegrab.replica.sites import urls

AMZ_EXPIRES_S = 86400  # presigned subtitle URLs last 24 h
AMZ_CREDENTIAL = "AKIAREPLICA7SUBTITLES/{day}/eu-west-1/s3/aws4_request"


def player_body(f: Fixture, *, subtitles_url: str | None = None) -> str:
    """The /player/{id} answer: #EXTM3U, then one #EXT-SL-TAG:value per line, LF, no trailing newline."""
    tags = [
        ("VERSION", "1"),
        ("PRESENTATION-ACCOUNT-ID", str(80000 + int(f.id) % 9973)),
        ("PRESENTATION-ID", f.id),
        ("PRESENTATION-TITLE", " ".join(f.title.split())),
        ("PRESENTATION-UPDATED-AT", urls.updated_at(f).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("PRESENTATION-PLAYER-TYPE", "video_slideshow"),
        ("PRESENTATION-START-TIME", str(f.start_time_ms)),
        ("PRESENTATION-THUMBNAIL", urls.thumbnail_url(f)),
        ("PRESENTATION-SLIDESLIVE-LOGO-VISIBLE", "false"),
        ("PRESENTATION-SLIDESLIVE-LOGO-LINKIFY", "false"),
        ("PRESENTATION-CUSTOM-CMCD-TRACKING", "false"),
        ("PLAYLIST-TYPE", f.playlist_type),
        ("VOD-MEDIA-SET-ID", str(100000 + int(f.id) % 99991)),
        ("VOD-VIDEO-SERVICE-NAME", f.service),
        ("VOD-VIDEO-ID", urls.video_service_id(f)),
        ("VOD-VIDEO-KEN-ENABLED", "false"),
        ("VOD-VIDEO-SERVERS", tag_json(list(urls.YODA_SERVERS) if f.service == "yoda" else [])),
        ("VOD-SLIDES-XML-URL", urls.slides_xml_url(f)),
        ("VOD-SLIDES-JSON-URL", urls.slides_json_url(f)),
    ]
    if subtitles_url:
        track = {"name": "English", "language": "en", "subtitles_id": urls.subtitles_id(f),
                 "webvtt_url": subtitles_url}
        tags.append(("VOD-SUBTITLES", tag_json([track])))
    return "\n".join(["#EXTM3U", *(f"#EXT-SL-{name}:{value}" for name, value in tags if value is not None)])


def tag_json(value: object) -> str:
    """JSON inside a tag: compact, with ``&`` written ``\\u0026`` as SlidesLive does."""
    return json.dumps(value, separators=(",", ":")).replace("&", "\\u0026")


def slides_json(f: Fixture) -> str:
    slides = []
    for index, slide in enumerate(f.slides):
        if slide.kind == "video":
            video = {"service": "yoda", "id": slide.video_id, "duration_ms": slide.video_duration_ms,
                     "export_as_video": True, "muted": True, "resolution": {"width": 1920, "height": 1080}}
            slides.append({"type": "video", "time": slide.time_ms, "video": video})
            continue
        image = {"name": slide_name(f, index)}
        if slide.declare_ext:
            image["extname"] = slide.ext
        slides.append({"type": "image", "image": image, "time": slide.time_ms})
    deck = {"slide_qualities": list(f.slide_qualities)} if f.slide_qualities else {}
    deck["slides"] = slides
    return json.dumps(deck, separators=(",", ":"))


def slides_xml(f: Fixture) -> str:
    rows = []
    for order, (index, slide, name) in enumerate(urls.image_slides(f), 1):
        del index
        rows.append(f"<slide><orderId>{order}</orderId><timeSec>{slide.time_ms // 1000}</timeSec>"
                    f"<time>{slide.time_ms}</time><slideName>{escape(name)}</slideName></slide>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<videoContent>' + "".join(rows) + "</videoContent>"


def video_service_data(f: Fixture, wanted: list[str] | None) -> dict:
    """slides_video_service_data: for each requested clip of the deck, its yoda servers."""
    clips = [s.video_id for s in f.slides if s.kind == "video"]
    chosen = [c for c in dict.fromkeys(clips) if wanted is None or c in wanted]
    servers = list(urls.YODA_SERVERS)
    return {c: {"video_service_name": "yoda", "video_id": c, "video_servers": servers} for c in chosen}


def presigned_subtitles_url(f: Fixture, secret: bytes, now: float) -> str:
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    sid = urls.subtitles_id(f)
    query = "&".join([
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Credential=" + quote(AMZ_CREDENTIAL.format(day=stamp[:8]), safe=""),
        f"X-Amz-Date={stamp}",
        f"X-Amz-Expires={AMZ_EXPIRES_S}",
        "X-Amz-SignedHeaders=host",
        f"X-Amz-Signature={_amz_signature(sid, stamp, secret)}",
    ])
    return f"https://{urls.SUBTITLES}/{sid}/subtitles.vtt?{query}"


def presigned_problem(sid: int, query: dict[str, list[str]], secret: bytes, now: float) -> str | None:
    """Why S3 would refuse this presigned request (None when it is fine)."""
    stamp = (query.get("X-Amz-Date") or [""])[-1]
    signature = (query.get("X-Amz-Signature") or [""])[-1]
    if not stamp or not signature:
        return "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
    if not hmac.compare_digest(signature, _amz_signature(sid, stamp, secret)):
        return "The request signature we calculated does not match the signature you provided."
    issued = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    return "Request has expired" if now > issued + AMZ_EXPIRES_S else None


def _amz_signature(sid: int, stamp: str, secret: bytes) -> str:
    return hmac.new(secret, f"subtitles/{sid}/{stamp}".encode(), hashlib.sha256).hexdigest()
