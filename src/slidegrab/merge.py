"""Merge: the slides, their timings and the audio → ``slides-video.mp4`` and ``slides.pdf`` (ARCHITECTURE.md
"Merge").

The video is encoded as the slideshow it is: ffmpeg's concat demuxer reads each slide image once with its
duration, libx264 (``-tune stillimage``, ``-fps_mode vfr``) writes a frame only where the slide changes, and
the downloaded audio is copied in untouched. Timing follows the site: the first slide shows from 0, each until
the next one starts, the last until the audio ends. The MP4 has one chapter per slide ("Slide N") and the
talk's title, speakers, URL and conference as metadata. ``ffmpeg_concat.txt`` is the exact list ffmpeg read,
kept for people who want to re-run ffmpeg (from the talk folder, with ``-f concat -safe 0``).

The concat demuxer forces two details. It decodes every file with the first file's decoder, so a deck that
mixes formats gets its non-PNG slides converted to PNG in ``frames/``. And it counts an image's time in
1/25 s ticks unless the list says ``option framerate 1000`` per file (which needs ``-safe 0``): with it,
slide changes land on their millisecond.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
import threading
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import ffmpeg
from PIL import Image

from slidegrab.archive import TalkFolder, slide_table
from slidegrab.errors import MediaError
from slidegrab.ffmpeg import probe, run
from slidegrab.stages import Stage, StageContext
from slidegrab.talk import Talk

VIDEO, CONCAT, PDF, FRAMES = "slides-video.mp4", "ffmpeg_concat.txt", "slides.pdf", "frames"
MAX_FRAME = (1920, 1080)
TICKS = 1000  # per second: the time resolution of the concat list and the chapters (1 ms)
DIRECT = {"PNG", "JPEG", "WEBP"}  # image formats the concat demuxer reads straight from slides/
REFETCH = "run slidegrab fetch again to download it"


@dataclass(frozen=True)
class Picture:
    path: Path
    format: str  # Pillow's name: "PNG", "JPEG", "WEBP" …
    size: tuple[int, int]
    still: bool = True  # False for animated images, which ffmpeg's image decoders do not play


@dataclass(frozen=True)
class Shot:
    picture: Picture
    start: int  # ms
    end: int  # ms


class MergeStage(Stage):
    name = "merge"

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        ctx.progress("merging", None, None)
        talk, rows = folder.talk, slide_table(folder)
        audio = audio_file(folder)
        end = max(1, round(audio_seconds(audio, talk.url) * TICKS))
        spans = timeline([row["start"] for row in rows], end)
        pictures = shown_pictures(folder, rows, talk.url)
        frame = frame_size([p.size for p in pictures])
        shots = [Shot(p, start, stop) for p, (start, stop) in zip(pictures, spans, strict=True) if stop > start]
        chapters = ffmetadata(talk, [row["index"] for row in rows], spans)
        converted = write_video(folder, shots, chapters, frame, audio, cancel=ctx.cancel)
        return {
            "files": [VIDEO, CONCAT],
            "duration": end / TICKS,
            "frame": list(frame),
            "chapters": len(spans),
            "normalised": converted,
        }


def write_video(
    folder: TalkFolder,
    shots: list[Shot],
    chapters: str,
    frame: tuple[int, int],
    audio: Path,
    *,
    cancel: threading.Event | None = None,
) -> int:
    """Write slides-video.mp4 and ffmpeg_concat.txt (and frames/ when the deck mixes formats); return how
    many slides were converted into frames/. On failure or ``cancel`` nothing of it is left behind."""
    frames = folder.path / FRAMES
    shutil.rmtree(frames, ignore_errors=True)  # an earlier merge's, now stale
    try:
        shots = normalise(shots, frames)
        with tempfile.TemporaryDirectory(prefix="slidegrab-merge-") as tmp:
            metadata = Path(tmp) / "metadata.txt"
            metadata.write_text(chapters, encoding="utf-8")
            with folder.writing(CONCAT) as concat, folder.writing(VIDEO) as video:
                concat.write_text(concat_list(shots, folder.path, frame, audio.name), encoding="utf-8")
                encode(concat, audio, metadata, video, frame, folder.talk.url, cancel)
    except BaseException:
        shutil.rmtree(frames, ignore_errors=True)
        raise
    return len({s.picture.path for s in shots if s.picture.path.parent == frames})


class PdfStage(Stage):
    name = "pdf"

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        ctx.progress("writing the PDF", None, None)
        rows, url = slide_table(folder), folder.talk.url
        pictures = [p for p in (picture_of(folder, row, url) for row in rows) if p is not None]
        if not pictures:
            raise MediaError("no slide images to put in the PDF", url=url, hint=REFETCH)
        with folder.writing(PDF) as tmp:
            write_pdf([p.path for p in pictures], tmp)
        return {"files": [PDF], "pages": len(pictures)}


def audio_file(folder: TalkFolder) -> Path:
    files = folder.stage("audio").get("files") or []
    path = folder.path / files[0] if files else None
    if path is None or not path.is_file():
        raise MediaError("no downloaded audio to merge", url=folder.talk.url, hint=REFETCH)
    return path


def audio_seconds(path: Path, url: str) -> float:
    """The audio's length, which is the video's; a MediaError when ffprobe finds no audio in it."""
    info = probe(path, url=url)
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    duration = info.get("format", {}).get("duration") or (streams[0].get("duration") if streams else None)
    if not streams or not duration or float(duration) <= 0:
        raise MediaError(f"{path.name} holds no audio stream with a duration", url=url, hint=REFETCH)
    return float(duration)


def timeline(starts: list[float], end: int) -> list[tuple[int, int]]:
    """(start, end) in ms of each slide on screen: the first from 0, each until the next begins (starts never
    go back, nor past ``end``), the last until ``end``."""
    bounds: list[int] = []
    for start in starts:
        bounds.append(min(max(round(start * TICKS), bounds[-1]), end) if bounds else 0)
    return list(zip(bounds, bounds[1:] + [end], strict=True))


def picture_of(folder: TalkFolder, row: dict[str, Any], url: str) -> Picture | None:
    """The slide's image, or None for a video slide without one; a MediaError for a missing image."""
    file = row["file"]
    try:
        if not file:
            raise OSError("no file was recorded")
        with Image.open(folder.path / file) as image:
            fmt = "JPEG" if image.format == "MPO" else str(image.format)
            return Picture(folder.path / file, fmt, image.size, not getattr(image, "is_animated", False))
    except (OSError, ValueError) as e:
        if row["kind"] != "image":
            return None
        raise MediaError(
            f"slide {row['index']} has no readable image ({file or 'none'}: {e})", url=url, hint=REFETCH
        ) from e


def shown_pictures(folder: TalkFolder, rows: list[dict[str, Any]], url: str) -> list[Picture]:
    """The picture on screen during each slide: a video slide keeps the slide before it (or, first, after)."""
    found = [picture_of(folder, row, url) for row in rows]
    last = next((p for p in found if p is not None), None)
    if last is None:
        raise MediaError("the talk has no slide images to make a video of", url=url, hint=REFETCH)
    shown = []
    for picture in found:
        last = picture or last
        shown.append(last)
    return shown


def frame_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The video frame: the largest slide, scaled down to fit 1920x1080, both sides even (for yuv420p)."""
    width, height = max(sizes, key=lambda size: size[0] * size[1])
    scale = min(1.0, MAX_FRAME[0] / width, MAX_FRAME[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def normalise(shots: list[Shot], frames: Path) -> list[Shot]:
    """The shots, readable by the concat demuxer in one go: one format it reads, else the non-PNG pictures
    converted to PNG in ``frames``."""
    formats = {s.picture.format for s in shots}
    if len(formats) == 1 and formats <= DIRECT and all(s.picture.still for s in shots):
        return shots
    converted: dict[Path, Picture] = {}
    out = []
    for shot in shots:
        picture = shot.picture
        if picture.format != "PNG" or not picture.still:
            if picture.path not in converted:
                converted[picture.path] = to_png(picture, frames)
            picture = converted[picture.path]
        out.append(replace(shot, picture=picture))
    return out


def to_png(picture: Picture, frames: Path) -> Picture:
    frames.mkdir(exist_ok=True)
    target = frames / f"{picture.path.stem}.png"
    with Image.open(picture.path) as image:
        image.convert("RGB").save(target, "PNG", compress_level=1)
    return Picture(target, "PNG", picture.size)


def concat_list(shots: list[Shot], folder: Path, frame: tuple[int, int], audio: str) -> str:
    """The ffconcat list: every shot with its duration, the last shot repeated without one (so that, with
    ``-fps_mode vfr``, the last slide lasts to the end instead of collapsing to a single frame)."""
    width, height = frame
    scale = f"scale={width}:{height}:force_original_aspect_ratio=decrease,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2"
    lines = [
        "ffconcat version 1.0",
        f"# ffmpeg -f concat -safe 0 -i {CONCAT} -i {shlex.quote(audio)} -map 0:v -map 1:a:0 -vf '{scale},setsar=1'"
        " -c:v libx264 -tune stillimage -fps_mode vfr -pix_fmt yuv420p -c:a copy slides-video.mp4",
    ]
    for shot in [*shots, shots[-1]]:
        path = shot.picture.path.relative_to(folder).as_posix()
        lines += ["file '{}'".format(path.replace("'", "'\\''")), f"option framerate {TICKS}"]
        lines.append(f"duration {(shot.end - shot.start) / TICKS:.3f}")
    return "\n".join(lines[:-1]) + "\n"  # the repeated last file has no duration


def ffmetadata(talk: Talk, indices: list[int], spans: list[tuple[int, int]]) -> str:
    """An FFMETADATA file: the talk's tags and one chapter per slide (ms)."""
    tags = {"title": talk.title, "artist": ", ".join(talk.speakers), "comment": talk.url, "album": talk.conference}
    lines = [";FFMETADATA1", *(f"{key}={escape(value)}" for key, value in tags.items() if value)]
    for index, (start, end) in zip(indices, spans, strict=True):
        lines += ["[CHAPTER]", f"TIMEBASE=1/{TICKS}", f"START={start}", f"END={end}", f"title=Slide {index}"]
    return "\n".join(lines) + "\n"


def escape(value: str) -> str:
    """FFMETADATA escaping: a backslash before '=', ';', '#', '\\' and newlines."""
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def encode(
    concat: Path,
    audio: Path,
    metadata: Path,
    target: Path,
    frame: tuple[int, int],
    url: str,
    cancel: threading.Event | None = None,
) -> None:
    width, height = frame
    slides = ffmpeg.input(str(concat), f="concat", safe=0)
    sound = ffmpeg.input(str(audio))
    tags = ffmpeg.input(str(metadata), f="ffmetadata")  # input 2: mapped below only to be an input at all
    picture = (
        slides.video.filter("scale", width, height, force_original_aspect_ratio="decrease")
        .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
        .filter("format", "yuv420p")
    )
    output = ffmpeg.output(
        picture, sound["a:0"], tags["d?"], str(target),
        f="mp4", vcodec="libx264", tune="stillimage", pix_fmt="yuv420p", fps_mode="vfr",
        acodec="copy", movflags="+faststart", map_metadata=2, map_chapters=2,
    )  # fmt: skip
    run(output, what="making the slide video", url=url, cancel=cancel)


def write_pdf(images: list[Path], target: Path) -> None:
    """A PDF with one page per image, the page the image's size (1 px = 1 pt). JPEGs go in as they are,
    other images as lossless Flate-compressed RGB; one image is in memory at a time (Pillow's own PDF
    writer keeps every page decoded, and re-encodes JPEGs)."""
    count = 3 + 3 * len(images)  # objects: 0 (free), catalog, page tree, then page + content + image each
    offsets = [0] * count
    with open(target, "wb") as out:
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        kids = b" ".join(b"%d 0 R" % (3 + 3 * i) for i in range(len(images)))
        _object(out, offsets, 1, b"<< /Type /Catalog /Pages 2 0 R >>")
        _object(out, offsets, 2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(images)))
        for i, path in enumerate(images):
            page, content, image = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            (width, height), info, data = _pdf_image(path)
            _object(out, offsets, image, info, data)
            _object(out, offsets, content, b"", b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (width, height))
            resources = b"<< /XObject << /Im0 %d 0 R >> >>" % image
            _object(
                out,
                offsets,
                page,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources %s "
                b"/Contents %d 0 R >>" % (width, height, resources, content),
            )
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        out.writelines(b"%010d 00000 n \n" % offset for offset in offsets[1:])
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))


def _object(out: BinaryIO, offsets: list[int], number: int, info: bytes, stream: bytes | None = None) -> None:
    """Write object ``number``: a dictionary, or a stream (``info`` holds the stream's extra keys)."""
    offsets[number] = out.tell()
    out.write(b"%d 0 obj\n" % number)
    if stream is None:
        out.write(info)
    else:
        out.write(b"<< %s /Length %d >>\nstream\n" % (info, len(stream)) + stream + b"\nendstream")
    out.write(b"\nendobj\n")


def _pdf_image(path: Path) -> tuple[tuple[int, int], bytes, bytes]:
    """(size, image dictionary keys, stream) of an image XObject."""
    keys = b"/Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent 8 /ColorSpace /%s /Filter /%s"
    with Image.open(path) as image:
        if image.format == "JPEG" and image.mode in ("RGB", "L"):
            space = b"DeviceRGB" if image.mode == "RGB" else b"DeviceGray"
            return image.size, keys % (*image.size, space, b"DCTDecode"), path.read_bytes()
        rgb = image.convert("RGB")
    return rgb.size, keys % (*rgb.size, b"DeviceRGB", b"FlateDecode"), zlib.compress(rgb.tobytes(), 6)
