"""The talk's media: which service holds it, the URL yt-dlp is given, the headers it needs, and its duration.

yoda    → https://{VOD-VIDEO-SERVERS[0]}/{id}/master.m3u8; duration from the first variant's #EXTINF
          (only with #EXT-X-ENDLIST), else from master.mpd's mediaPresentationDuration
vimeo   → https://player.vimeo.com/video/{id} with a Referer it accepts; duration from playerConfig
youtube → https://www.youtube.com/watch?v={id}
url     → the id is the media URL
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import requests

from slidegrab.errors import EmbedOnlyError, NetworkError, SiteChangedError
from slidegrab.resolve.slides import changed
from slidegrab.resolve.web import get, get_text, log, text_of
from slidegrab.safety import checked_url
from slidegrab.talk import MediaSource

SERVICES = ("yoda", "vimeo", "youtube", "url")
SLIDESLIVE_REFERER = "https://slideslive.com/"
VIMEO_PRIVACY = "Because of its privacy settings"
_ISO_DURATION = re.compile(
    r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def resolve_media(
    service: str,
    video_id: str,
    servers: list[str],
    *,
    talk_id: str,
    parent: str | None,
    session: requests.Session,
) -> tuple[MediaSource, float | None]:
    """The MediaSource and, where the service tells it, the duration in seconds. Every URL is checked
    (safety.checked_url) before it is fetched."""
    where = f"talk {talk_id}: #EXT-SL-VOD-VIDEO"
    if service == "yoda":
        if not servers:
            raise changed("the player response lists no VOD-VIDEO-SERVERS", talk_id)
        base = checked_url(f"https://{servers[0]}/{video_id}", f"{where}-SERVERS[0] with the video id")
        return MediaSource("yoda", video_id, f"{base}/master.m3u8"), yoda_duration(session, base, talk_id)
    if service == "vimeo":
        url = checked_url(f"https://player.vimeo.com/video/{video_id}", f"{where}-ID")
        referer, duration = vimeo_player(session, url, talk_id=talk_id, parent=parent)
        return MediaSource("vimeo", video_id, url, {"Referer": referer}), duration
    if service == "youtube":
        return MediaSource("youtube", video_id, f"https://www.youtube.com/watch?v={video_id}"), None
    if service == "url":
        return MediaSource("url", video_id, checked_url(video_id, f"{where}-ID")), None
    raise SiteChangedError(
        f"talk {talk_id}: unknown video service {service!r} (slidegrab knows {', '.join(SERVICES)})",
        hint="SlidesLive may have added a service; please report it",
    )


def yoda_duration(session: requests.Session, base: str, talk_id: str = "") -> float | None:
    """Seconds, from the HLS manifests, else the DASH manifest; None when neither says."""
    master_url = f"{base}/master.m3u8"
    master = get_text(session, master_url, what="HLS master playlist", optional=True)
    duration = hls_duration(session, master_url, master, talk_id) if master else None
    if duration is None:
        mpd = get_text(session, f"{base}/master.mpd", what="DASH manifest", optional=True)
        duration = mpd_duration(mpd) if mpd else None
    return duration


def hls_duration(session: requests.Session, master_url: str, master: str, talk_id: str = "") -> float | None:
    if "#EXTINF" in master:
        return extinf_total(master)
    variant = first_variant(master)
    if variant is None:
        return None
    where = f"talk {talk_id}: the HLS master playlist's first variant" if talk_id else "the HLS master's first variant"
    url = checked_url(urljoin(master_url, variant), where)
    media = get_text(session, url, what="HLS media playlist", optional=True)
    return extinf_total(media) if media else None


def first_variant(master: str) -> str | None:
    """The URI that follows the first #EXT-X-STREAM-INF."""
    lines = [line.strip() for line in master.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF"):
            return next((uri for uri in lines[i + 1 :] if uri and not uri.startswith("#")), None)
    return None


def extinf_total(playlist: str) -> float | None:
    """The sum of #EXTINF durations of a finished (VOD) media playlist; None without #EXT-X-ENDLIST."""
    if "#EXT-X-ENDLIST" not in playlist:
        return None
    total = 0.0
    for line in playlist.splitlines():
        if line.startswith("#EXTINF:"):
            try:
                total += float(line[8:].split(",")[0])
            except ValueError:
                return None
    return round(total, 3)


def mpd_duration(mpd: str) -> float | None:
    m = re.search(r'mediaPresentationDuration\s*=\s*"([^"]+)"', mpd)
    return iso_duration(m.group(1)) if m else None


def iso_duration(text: str) -> float | None:
    """'PT1H2M3.5S' → 3723.5 seconds; None for anything else."""
    m = _ISO_DURATION.fullmatch(text.strip())
    if not m or not any(m.groups()):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return round(((days * 24 + hours) * 60 + minutes) * 60 + seconds, 3)


def vimeo_player(session: requests.Session, url: str, *, talk_id: str, parent: str | None) -> tuple[str, float | None]:
    """The Referer Vimeo accepts for this video (the parent page, else slideslive.com) and its duration."""
    for referer in dict.fromkeys(r for r in (parent, SLIDESLIVE_REFERER) if r):
        response = get(session, url, what="Vimeo player page", headers={"Referer": referer})
        if response.status_code == 200:
            return referer, vimeo_duration(text_of(response), url, talk_id)
        if response.status_code not in (403, 429) or VIMEO_PRIVACY not in text_of(response):
            raise NetworkError(f"the Vimeo player page answered HTTP {response.status_code}", url=url)
        log.info("Vimeo refused Referer %s for %s", referer, url)
    raise EmbedOnlyError(
        f"talk {talk_id}: its Vimeo video plays only on the pages that embed it",
        url=url,
        hint="give the conference page URL that embeds it, or pass --referer https://<that page's domain>/",
    )


def vimeo_duration(page: str, url: str, talk_id: str) -> float | None:
    """video.duration from the ``playerConfig = {…}`` object of a Vimeo player page."""
    m = re.search(r"\bplayerConfig\s*=\s*(?=\{)", page) or re.search(r"\bconfig\s*=\s*(?=\{)", page)
    if not m:
        raise changed(f"the Vimeo player page {url} has no playerConfig", talk_id)
    try:
        config, _ = json.JSONDecoder().raw_decode(page, m.end())
    except (ValueError, RecursionError) as e:  # RecursionError: nested deeper than the interpreter's stack
        raise changed(f"the Vimeo playerConfig at {url} is not JSON ({str(e)[:120]})", talk_id) from None
    video = config.get("video") if isinstance(config, dict) else None
    duration = video.get("duration") if isinstance(video, dict) else None
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration > 0:
        return float(duration)
    log.warning("talk %s: the Vimeo playerConfig has no video.duration", talk_id)
    return None
