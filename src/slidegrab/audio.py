"""The audio stage: the talk's sound track through yt-dlp's Python API, best audio only, never re-encoded.

yoda talks give yt-dlp the HLS master (its audio rendition is an audio-only format), Vimeo talks the player
URL with the Referer the resolver found, "url" talks the direct MP4 (whose audio stream ffmpeg then copies
out), YouTube talks the watch URL. yt-dlp's ``.part`` files make an interrupted download resume. The result
is ``audio.m4a`` when the codec is AAC in an MP4 container, otherwise ``audio.<the site's container>``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yt_dlp
from yt_dlp.utils import DownloadCancelled, DownloadError

from slidegrab import ffmpeg, safety
from slidegrab.archive import TalkFolder
from slidegrab.errors import EXPIRED_STATUSES, MediaError, NetworkError, SlidegrabError, TokenExpired
from slidegrab.stages import Stage, StageContext
from slidegrab.talk import Talk

log = logging.getLogger("slidegrab.audio")

MUXERS = {"m4a": "ipod", "mp4": "mp4", "webm": "webm", "mka": "matroska", "ogg": "ogg", "mp3": "mp3"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NETWORKISH = re.compile(r"HTTP Error|Unable to (download|connect)|timed out|Connection|Tunnel|resolve host", re.I)
_EMBED_ONLY = "embed-only video"
_SERVICE_HOSTS = ("vimeo.com", "youtube.com", "youtu.be", "youtube-nocookie.com")
_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})")
_TRANSIENT = re.compile(
    r"HTTP Error (429|5\d\d)|timed out|Connection (reset|aborted|refused)|Remote end closed|IncompleteRead"
    r"|bytes read|Unable to download video data|network error|blocked due to its TLS fingerprint",  # (Vimeo's 429)
    re.I,
)


class AudioStage(Stage):
    name = "audio"

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        talk = folder.talk
        url = talk.media.url
        template = folder.path / "audio.%(ext)s"
        info = ytdlp_download(ctx, url, template, "bestaudio/best", talk, talk.media.headers, report="audio")
        downloaded = Path(info["filepath"])
        try:
            final = settle(folder, downloaded, talk, ctx.cancel)
            stream, duration = probe_audio(final, talk)
        except MediaError as e:
            raise unreadable_audio(folder, downloaded, talk, e) from None
        return {
            "files": [final.name],
            "codec": stream.get("codec_name"),
            "duration": duration,
            "format_id": info.get("format_id"),
            "bytes": final.stat().st_size,
        }


def unreadable_audio(folder: TalkFolder, downloaded: Path, talk: Talk, error: MediaError) -> MediaError:
    """Remove what yt-dlp downloaded when ffmpeg cannot read it: left in place, yt-dlp would take it for a
    finished download on the rerun, and the talk could never get its audio."""
    for path in (downloaded, *folder.path.glob("audio.*")):
        if path.is_file() and not path.name.endswith((".part", ".ytdl")):
            path.unlink()
    return MediaError(
        f"talk {talk.id}: what the site sent as audio is not a stream ffmpeg can read ({error.message})",
        url=talk.media.url,
        hint="a rerun downloads it again",
    )


def ytdlp_download(
    ctx: StageContext,
    url: str,
    template: Path,
    fmt: str,
    talk: Talk,
    headers: dict[str, str] | None = None,
    *,
    report: str | None = None,
) -> dict[str, Any]:
    """Download ``url`` with yt-dlp into ``template`` (an output template); returns yt-dlp's info for the
    format it fetched, ``filepath`` included. ``report`` names the progress it reports, if any.

    yt-dlp retries fragments, but not a manifest, a 429 or a connection lost between them: such a transient
    failure runs the download again (as often as a request is retried), resuming from its .part files. So
    does a transient failure yt-dlp only warns about (an optional manifest): the formats it would choose
    from are not all there, and the file could differ from a clean run's. The last try accepts that."""
    params = ytdlp_params(ctx, template, fmt, headers or {}, report)
    for attempt in range(max(0, ctx.net.retries)):
        try:
            return _ytdlp_run({**params, "logger": _YtdlpLog(strict=True)}, url, talk)
        except DownloadError as e:
            if not _TRANSIENT.search(clean_ytdlp_message(str(e))):
                raise ytdlp_failure(talk, url, str(e)) from None
            log.info("talk %s: %s; trying again", talk.id, clean_ytdlp_message(str(e)))
        except _Degraded as e:
            log.info("talk %s: yt-dlp carried on past %s; trying again", talk.id, e)
        ctx.cancel.wait(min(ctx.net.backoff * 2**attempt, 8))
    try:
        return _ytdlp_run(params, url, talk)
    except DownloadError as e:
        raise ytdlp_failure(talk, url, str(e)) from None


class TooLarge(DownloadCancelled):
    """A download that passed safety.MEDIA_BYTES without declaring its size (yt-dlp's max_filesize stops
    those that declare it)."""


def _ytdlp_run(params: dict[str, Any], url: str, talk: Talk) -> dict[str, Any]:
    """One yt-dlp run; its DownloadError is the caller's to judge."""
    try:
        info = _extract(params, url)
    except TooLarge as e:
        raise MediaError(f"talk {talk.id}: the download grew to {e}; refused as no talk's media", url=url) from None
    except DownloadCancelled:
        raise SlidegrabError(f"talk {talk.id}: interrupted") from None
    downloads = (info or {}).get("requested_downloads") or [{}]
    if not downloads[0].get("filepath"):
        raise MediaError(f"talk {talk.id}: yt-dlp reported no downloaded file", url=url)
    return {**info, **downloads[0]}


def _extract(params: dict[str, Any], url: str) -> dict[str, Any] | None:
    """yt-dlp's extract-and-download. A resume that the server refuses (HTTP 416) starts over from nothing,
    once: yt-dlp cannot resume a fragment that was already whole when its last run was stopped (Ctrl-C or a
    kill at that instant; yt-dlp issue 12994), and would fail on it at every rerun."""
    try:
        with yt_dlp.YoutubeDL(params) as ydl:
            return ydl.extract_info(url, download=True, ie_key=extractor_for(url))
    except DownloadError as e:
        if "HTTP Error 416" not in str(e):
            raise
    log.info("yt-dlp could not resume %s (HTTP 416); downloading it again from the start", url)
    forget_partial(Path(params["outtmpl"]["default"]))
    with yt_dlp.YoutubeDL(params) as ydl:
        return ydl.extract_info(url, download=True, ie_key=extractor_for(url))


def extractor_for(url: str) -> str | None:
    """yt-dlp's Generic extractor for media files and manifests on a CDN; None (yt-dlp picks among all of its
    ~1,800 extractors, compiling their patterns: a second of CPU) only for the video services."""
    host = (urlsplit(url).hostname or "").lower()
    return None if host.endswith(_SERVICE_HOSTS) else "Generic"


def forget_partial(template: Path) -> None:
    """Remove yt-dlp's resume state for an output template (``audio.%(ext)s``): its .part, -FragN and .ytdl
    files (slidegrab's own temporary files start with a dot and are not among them)."""
    for path in template.parent.glob(template.name.split("%", 1)[0] + "*"):
        if ".part" in path.name or path.name.endswith(".ytdl"):
            path.unlink(missing_ok=True)


def ytdlp_params(
    ctx: StageContext, template: Path, fmt: str, headers: dict[str, str], report: str | None
) -> dict[str, Any]:
    params = ctx.net.ytdlp_params()
    params["http_headers"] = {**params["http_headers"], **headers}

    def hook(d: dict[str, Any]) -> None:
        if ctx.cancel.is_set():
            raise DownloadCancelled("interrupted")
        if (d.get("downloaded_bytes") or 0) > safety.MEDIA_BYTES:  # max_filesize stops only declared sizes
            raise TooLarge(f"more than {safety.MEDIA_BYTES / 2**30:g} GiB")
        if report and d.get("status") == "downloading":
            ctx.progress(report, d.get("downloaded_bytes"), d.get("total_bytes") or d.get("total_bytes_estimate"))

    params.update(
        format=fmt,
        outtmpl={"default": str(template)},
        progress_hooks=[hook],
        logger=_YtdlpLog(),
        quiet=True,
        noprogress=True,
        noplaylist=True,
        playlist_items="1",
        continuedl=True,
        cachedir=False,
        updatetime=False,
        skip_unavailable_fragments=False,
        color={"stdout": "no_color", "stderr": "no_color"},
    )
    return params


def ytdlp_failure(talk: Talk, url: str, message: str) -> SlidegrabError:
    """One clean line for a yt-dlp DownloadError, as the error class that fits."""
    reason = clean_ytdlp_message(message)
    if talk.media.service == "youtube":
        return NetworkError(
            f"talk {talk.id}: YouTube could not be reached ({reason})",
            url=url,
            hint="this talk's video is on YouTube; check --proxy and the network",
        )
    if _EMBED_ONLY in reason:
        return MediaError(
            f"talk {talk.id}: Vimeo refused the video without the page that embeds it",
            url=url,
            hint="fetch the conference page URL that embeds the talk, or pass --referer https://<that page>/",
        )
    if (status := _HTTP_STATUS.search(reason)) and int(status.group(1)) in EXPIRED_STATUSES:
        return TokenExpired(f"talk {talk.id}: the media answered HTTP {status.group(1)} ({reason})", url=url)
    if _NETWORKISH.search(reason):
        hint = "check --proxy and the network; a rerun resumes the download"
        return NetworkError(f"talk {talk.id}: yt-dlp could not download the media: {reason}", url=url, hint=hint)
    return MediaError(f"talk {talk.id}: yt-dlp could not download the media: {reason}", url=url)


def clean_ytdlp_message(message: str) -> str:
    """'ERROR: [vimeo] 123: Cannot … ; please report this issue …' → 'Cannot …' (one line, no colours)."""
    text = _ANSI.sub("", message).replace("\r", " ").strip().split("\n")[0]
    text = re.sub(r"^(ERROR:\s*)?(\[[\w:]+\]\s*)?([\w-]+:\s+)?(Got error:\s*)?", "", text)
    text = re.split(r"; please report this issue| \(caused by ", text)[0]
    text = re.sub(r"\('([^']*)', \w+\('([^']*)'\)\)", r"\1: \2", text)  # ('Unable to …', OSError('…'))
    return text.strip().rstrip(".") or "unknown error"


def settle(folder: TalkFolder, downloaded: Path, talk: Talk, cancel: threading.Event | None = None) -> Path:
    """The download as audio.m4a / audio.<container>: renamed when it is audio only, else its audio copied out."""
    streams = probe(downloaded, talk)["streams"]
    codec = _audio_streams(streams, downloaded, talk)["codec_name"]
    container = downloaded.suffix.lstrip(".").lower()
    if codec == "aac" and container in ("mp4", "m4a"):
        container = "m4a"
    if len(streams) == 1:
        target = folder.path / f"audio.{container}"
        os.replace(downloaded, target)
        return target
    container = container if container in MUXERS else "mka"
    target = folder.path / f"audio.{container}"
    with folder.writing(target.name) as tmp:
        args = ["-i", str(downloaded), "-map", "0:a:0", "-vn", "-c:a", "copy", *_mux_args(container), str(tmp)]
        run_ffmpeg(args, talk, "copying the audio stream out of the video", cancel=cancel)
    if downloaded != target:
        downloaded.unlink(missing_ok=True)
    return target


def _mux_args(container: str) -> list[str]:
    faststart = ["-movflags", "+faststart"] if container in ("m4a", "mp4") else []
    return [*faststart, "-f", MUXERS[container]]


def probe_audio(path: Path, talk: Talk) -> tuple[dict[str, Any], float | None]:
    """The one audio stream of the finished file, and its duration in seconds."""
    data = probe(path, talk)
    stream = _audio_streams(data["streams"], path, talk)
    if len(data["streams"]) != 1:
        raise MediaError(f"talk {talk.id}: {path.name} holds more than its audio stream", url=talk.url)
    duration = data.get("format", {}).get("duration") or stream.get("duration")
    return stream, round(float(duration), 3) if duration else None


def _audio_streams(streams: list[dict[str, Any]], path: Path, talk: Talk) -> dict[str, Any]:
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if len(audio) != 1:
        raise MediaError(f"talk {talk.id}: {path.name} has {len(audio)} audio streams, expected one", url=talk.url)
    return audio[0]


def probe(path: Path, talk: Talk) -> dict[str, Any]:
    return ffmpeg.probe(path, url=talk.url)


def run_ffmpeg(
    args: list[str], talk: Talk, doing: str, *, capture: bool = False, cancel: threading.Event | None = None
) -> bytes:
    """Run ffmpeg (an argument list, no shell); a failure is a MediaError naming the talk and the step.
    With ``cancel``, setting it stops ffmpeg (an "interrupted" error)."""
    return ffmpeg.run_args(args, what=f"{doing} (talk {talk.id})", url=talk.url, capture=capture, cancel=cancel)


class _Degraded(Exception):
    """A transient failure yt-dlp warned about and carried on past (raised from its logger)."""


class _YtdlpLog:
    """yt-dlp's chatter goes to logging (visible with -v); its errors come back as DownloadError. ``strict``:
    a warning of a transient failure raises _Degraded, which stops the run (yt-dlp lets it through)."""

    def __init__(self, *, strict: bool = False):
        self.strict = strict

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    info = debug

    def warning(self, msg: str) -> None:
        text = _ANSI.sub("", msg)
        log.info("yt-dlp: %s", text)
        if self.strict and _TRANSIENT.search(text):
            raise _Degraded(clean_ytdlp_message(text))

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", _ANSI.sub("", msg))
