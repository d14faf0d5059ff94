"""The download stages: slide images, the audio (audio.py), and the site's subtitles.

Slides are fetched concurrently over the one keep-alive session, each verified to decode as the format the
site declares, and written atomically as ``slides/0001.png`` … in deck order. A video slide becomes a
still of its clip's first frame (``slides/NNNN.png``), so the deck has no hole. A slide already on disk
that decodes is not fetched again.
"""

from __future__ import annotations

import io
import re
import struct
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import requests
from PIL import Image, UnidentifiedImageError

from slidegrab.archive import TalkFolder
from slidegrab.audio import AudioStage, run_ffmpeg, ytdlp_download
from slidegrab.errors import EXPIRED_STATUSES, MediaError, NetworkError, SlidegrabError, TokenExpired
from slidegrab.net import fetch, get_whole, reason
from slidegrab.safety import IMAGE_BYTES, SUBTITLE_BYTES
from slidegrab.stages import Stage, StageContext
from slidegrab.talk import Slide, Talk

__all__ = ["AudioStage", "SlidesStage", "SubtitlesStage"]

WORKERS = 8
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF"}
MAX_PIXELS = 50_000_000  # 8K is 33 MP; anything larger is no slide but a decompression bomb
SLIDE_FORMATS = tuple(sorted(set(IMAGE_FORMATS.values())))  # what Image.open may identify a slide as
CLIP_FORMAT = "bestvideo[height<=1080]/best[height<=1080]/worstvideo/worst"  # a still as sharp as a slide
END_MARKERS = {"JPEG": b"\xff\xd9", "GIF": b";"}  # a body cut short lacks them (WebP: its RIFF size)
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)


class SlidesStage(Stage):
    name = "slides"

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        talk = folder.talk
        files = slide_files(talk)
        todo = [(s, f) for s, f in zip(talk.slides, files, strict=True) if not on_disk(folder.path / f)]
        done, total = len(files) - len(todo), len(files)
        ctx.progress("slides", done, total)
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="slides") as pool:
            futures = [pool.submit(fetch_slide, folder, talk, slide, file, ctx) for slide, file in todo]
            for future in _completed(futures):
                done += future.result()
                ctx.progress("slides", done, total)
        if done < total:  # cancelled: the workers stopped starting new slides
            raise SlidegrabError(f"talk {talk.id}: interrupted after {done} of {total} slides")
        video = [s.index for s in talk.slides if s.kind == "video"]
        return {"files": files, "video_slides": video, "count": total}


def _completed(futures: list[Future]):
    """Futures as they finish; on the first failure the ones not yet started are cancelled."""
    try:
        yield from as_completed(futures)
    finally:
        for future in futures:
            future.cancel()


def slide_files(talk: Talk) -> list[str]:
    """slides/0001.png … in deck order: 4 digits (more past 9999), the declared extension (.png for video)."""
    width = max(4, len(str(len(talk.slides))))
    return [f"slides/{s.index:0{width}d}{_extension(s)}" for s in talk.slides]


def _extension(slide: Slide) -> str:
    return ".png" if slide.kind == "video" else slide.ext.lower()


def on_disk(path: Path) -> bool:
    """A slide from an earlier run that decodes as its extension says."""
    try:
        return path.is_file() and image_format(path.read_bytes()) == IMAGE_FORMATS.get(path.suffix)
    except DECODE_ERRORS:
        return False


def image_format(data: bytes) -> str:
    """Pillow's name of the format ``data`` is; raises one of DECODE_ERRORS if it is not a whole image.

    The check is structural, not a full decode (which cost 3 ms a slide, more than the transfer on a fast
    link): the header and size, every PNG chunk's CRC (Pillow's ``verify``), the end marker of a JPEG or
    GIF. A body cut short is also caught by its Content-Length; OCR decodes every slide later anyway.
    """
    # Only the slide formats: Pillow's other openers are attack surface (EPS even runs Ghostscript).
    with Image.open(io.BytesIO(data), formats=SLIDE_FORMATS) as image:
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"{image.width}x{image.height} pixels is too large for a slide")
        found = image.format or ""
        image.verify()
    if (marker := END_MARKERS.get(found)) and not data.rstrip(b"\0\r\n").endswith(marker):
        raise EOFError(f"the {found} ends before its end marker")
    return found


def fetch_slide(folder: TalkFolder, talk: Talk, slide: Slide, file: str, ctx: StageContext) -> int:
    """Fetch one slide and write it; 1 when written, 0 when cancelled before starting."""
    if ctx.cancel.is_set():
        return 0
    data = clip_still(talk, slide, ctx) if slide.kind == "video" else slide_image(talk, slide, ctx)
    with folder.writing(file) as tmp:
        tmp.write_bytes(data)
    return 1


def slide_image(talk: Talk, slide: Slide, ctx: StageContext) -> bytes:
    """The image's bytes, verified; a broken transfer or a body that does not decode is tried again."""
    url = slide.image_url
    if not url:
        raise MediaError(f"talk {talk.id}: slide {slide.index} has no image URL", url=talk.url)
    for attempt in range(max(0, ctx.net.retries)):
        try:
            return verified_image(talk, slide, _get(ctx.session, url, talk, slide))
        except MediaError:  # a body that is no image (an error page served as 200): asked for again
            time.sleep(min(ctx.net.backoff * 2**attempt, 8))
    return verified_image(talk, slide, _get(ctx.session, url, talk, slide))  # the last try: its failure counts


def _get(session: requests.Session, url: str, talk: Talk, slide: Slide) -> requests.Response:
    """The slide's answer, body read (``get_whole`` fetches a transfer cut short again). A 403/410 may be an
    expired signed URL: TokenExpired, so that the pipeline resolves the talk again."""
    try:
        response = get_whole(session, url, limit=IMAGE_BYTES)
    except requests.RequestException as e:
        hint = "check --proxy and the network; a rerun fetches only the missing slides"
        message = f"talk {talk.id}: slide {slide.index} could not be fetched: {reason(e)}"
        raise NetworkError(message, url=url, hint=hint) from None
    status = response.status_code
    if status != 200:
        error = TokenExpired if status in EXPIRED_STATUSES else NetworkError
        raise error(f"talk {talk.id}: slide {slide.index} answered HTTP {status}", url=url)
    return response


def verified_image(talk: Talk, slide: Slide, response: requests.Response) -> bytes:
    data, expected = response.content, IMAGE_FORMATS.get(slide.ext.lower())
    try:
        found = image_format(data)
    except DECODE_ERRORS as e:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        why = "not a known image format" if isinstance(e, UnidentifiedImageError) else str(e)
        raise MediaError(
            f"talk {talk.id}: slide {slide.index} is not an image ({kind}, {len(data)} bytes: {why})",
            url=response.url,
        ) from None
    if expected and found != expected:
        raise MediaError(
            f"talk {talk.id}: slide {slide.index} is {found}, not the {slide.ext} the site declares",
            url=response.url,
        )
    return data


def clip_still(talk: Talk, slide: Slide, ctx: StageContext) -> bytes:
    """A PNG of the first frame of a video slide's clip (fetched by yt-dlp, at most 1080 lines high)."""
    url = slide.video.url if slide.video else None
    if not url:
        service = slide.video.service if slide.video else "unknown"
        raise MediaError(f"talk {talk.id}: video slide {slide.index} ({service}) has no clip URL to fetch")
    with tempfile.TemporaryDirectory(prefix="slidegrab-clip-") as temp:
        info = ytdlp_download(ctx, url, Path(temp) / "clip.%(ext)s", CLIP_FORMAT, talk)
        args = ["-i", info["filepath"], "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]
        data = run_ffmpeg(args, talk, f"taking the first frame of video slide {slide.index}", capture=True)
    if not data:
        raise MediaError(f"talk {talk.id}: video slide {slide.index}'s clip has no frame", url=url)
    return data


class SubtitlesStage(Stage):
    name = "subtitles"

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        talk, files = folder.talk, []
        for subtitle in talk.subtitles:
            file = subtitles_file(subtitle.language, files)
            what = f"{subtitle.name or subtitle.language} subtitles of talk {talk.id}"
            response = fetch(ctx.session, subtitle.url, what=what, limit=SUBTITLE_BYTES)  # presigned: expire in 24 h
            text = response.content.decode("utf-8-sig", errors="replace")
            if not text.startswith("WEBVTT"):
                raise MediaError(f"talk {talk.id}: the {subtitle.language} subtitles are not WebVTT", url=subtitle.url)
            with folder.writing(file) as tmp:
                tmp.write_text(text, encoding="utf-8")
            files.append(file)
        return {"files": files}


def subtitles_file(language: str, taken: list[str]) -> str:
    """site-subtitles.<language>.vtt: the language reduced to a safe tag, numbered if it repeats."""
    tag = re.sub(r"[^A-Za-z0-9-]+", "", language)[:20] or "und"
    name, n = f"site-subtitles.{tag}.vtt", 2
    while name in taken:
        name, n = f"site-subtitles.{tag}-{n}.vtt", n + 1
    return name
