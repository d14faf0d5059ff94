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
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import DownloadCancelled, DownloadError

from slidegrab import ffmpeg
from slidegrab.archive import TalkFolder
from slidegrab.errors import MediaError, NetworkError, SlidegrabError
from slidegrab.stages import Stage, StageContext
from slidegrab.talk import Talk

log = logging.getLogger("slidegrab.audio")

MUXERS = {"m4a": "ipod", "mp4": "mp4", "webm": "webm", "mka": "matroska", "ogg": "ogg", "mp3": "mp3"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NETWORKISH = re.compile(r"HTTP Error|Unable to (download|connect)|timed out|Connection|Tunnel|resolve host", re.I)
_EMBED_ONLY = "embed-only video"


class AudioStage(Stage):
    name = "audio"

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        talk = folder.talk
        url = talk.media.url
        template = folder.path / "audio.%(ext)s"
        info = ytdlp_download(ctx, url, template, "bestaudio/best", talk, talk.media.headers, report="audio")
        final = settle(folder, Path(info["filepath"]), talk)
        stream, duration = probe_audio(final, talk)
        return {
            "files": [final.name],
            "codec": stream.get("codec_name"),
            "duration": duration,
            "format_id": info.get("format_id"),
            "bytes": final.stat().st_size,
        }


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
    format it fetched, ``filepath`` included. ``report`` names the progress it reports, if any."""
    params = ytdlp_params(ctx, template, fmt, headers or {}, report)
    try:
        with yt_dlp.YoutubeDL(params) as ydl:
            info = ydl.extract_info(url, download=True)
    except DownloadCancelled:
        raise SlidegrabError(f"talk {talk.id}: interrupted") from None
    except DownloadError as e:
        raise ytdlp_failure(talk, url, str(e)) from None
    downloads = (info or {}).get("requested_downloads") or [{}]
    if not downloads[0].get("filepath"):
        raise MediaError(f"talk {talk.id}: yt-dlp reported no downloaded file", url=url)
    return {**info, **downloads[0]}


def ytdlp_params(
    ctx: StageContext, template: Path, fmt: str, headers: dict[str, str], report: str | None
) -> dict[str, Any]:
    params = ctx.net.ytdlp_params()
    params["http_headers"] = {**params["http_headers"], **headers}

    def hook(d: dict[str, Any]) -> None:
        if ctx.cancel.is_set():
            raise DownloadCancelled("interrupted")
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


def settle(folder: TalkFolder, downloaded: Path, talk: Talk) -> Path:
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
        run_ffmpeg(args, talk, "copying the audio stream out of the video")
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


def run_ffmpeg(args: list[str], talk: Talk, doing: str, *, capture: bool = False) -> bytes:
    """Run ffmpeg (an argument list, no shell); a failure is a MediaError naming the talk and the step."""
    return ffmpeg.run_args(args, what=f"{doing} (talk {talk.id})", url=talk.url, capture=capture)


class _YtdlpLog:
    """yt-dlp's chatter goes to logging (visible with -v); its errors come back as DownloadError."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.info("yt-dlp: %s", _ANSI.sub("", msg))

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", _ANSI.sub("", msg))
