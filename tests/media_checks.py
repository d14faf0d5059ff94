"""What end-to-end tests measure in the files slidegrab writes: ffprobe facts, frame colours, stream checksums."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageStat


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-show_chapters", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(out.stdout)


def stream_md5(path: Path, selector: str = "0:a") -> str:
    """MD5 of a stream's packets, copied out untouched: equal only if the stream was not re-encoded."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", selector, "-c", "copy", "-f", "md5", "-"],
        capture_output=True,
        check=True,
        text=True,
    )
    return out.stdout.strip()


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The picture a player shows at ``seconds``: the last frame whose time is at or before it.

    (``ffmpeg -ss T`` returns the first frame at or *after* T, which in a slideshow is the next slide.)
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frame.png"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-map",
                "0:v",
                "-vf",
                f"select=lte(t\\,{seconds:.3f})",
                "-fps_mode",
                "passthrough",
                "-update",
                "1",
                "-f",
                "image2",
                str(out),
            ],
            check=True,
        )
        return Image.open(out).convert("RGB")


def video_end(path: Path) -> float:
    """The time of the video's last frame (a slideshow's last frame is the last slide held to the end)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    return max(float(x) for x in out.stdout.split() if x.strip() not in ("", "N/A"))


def background(image: Image.Image) -> tuple[int, int, int]:
    """The slide's background colour: the mean of a patch in its bottom-left margin, clear of any text."""
    w, h = image.size
    patch = image.crop((int(w * 0.01), int(h * 0.93), int(w * 0.03) + 1, int(h * 0.97) + 1))
    return tuple(int(v) for v in ImageStat.Stat(patch).mean)


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def assert_talk_is_honest(talk: Path) -> dict:
    """After anything (a kill, a full disk, Ctrl-C): talk.json is whole JSON and claims done only for stages
    whose files exist, and every file under its final name is whole (images decode, media probe, the PDF
    ends, the JSON files parse). Returns talk.json's contents."""
    state = json.loads((talk / "talk.json").read_text())
    for name, record in state.get("stages", {}).items():
        if record["status"] == "done":
            assert all((talk / f).is_file() for f in record.get("files", ())), f"{talk.name}: {name}"
    for image in (talk / "slides").glob("[0-9]*.*"):
        with Image.open(image) as im:
            im.load()
    for media in [*talk.glob("audio.*"), *talk.glob("slides-video.mp4")]:
        if not media.name.endswith((".part", ".ytdl")) and ".part-Frag" not in media.name:
            probe(media)
    for data in talk.glob("*.json"):
        json.loads(data.read_text())
    if (talk / "slides.pdf").exists():
        assert (talk / "slides.pdf").read_bytes().rstrip().endswith(b"%%EOF")
    return state
