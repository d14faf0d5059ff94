"""Running ffmpeg and ffprobe: commands built with ffmpeg-python, run as argument lists (never a shell),
logged at debug level; a failure becomes a MediaError carrying ffmpeg's own last line of complaint.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ffmpeg

from slidegrab.errors import MediaError

log = logging.getLogger("slidegrab.ffmpeg")

INSTALL_HINT = "install ffmpeg 5.1 or newer (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg)"
QUIET = ("-hide_banner", "-nostdin", "-loglevel", "error")
GENERIC = re.compile(r"Conversion failed!|Error initializing output stream|Could not write header for output file")
ADDRESS = re.compile(r"\[([^\]]+?) @ 0x[0-9a-f]+\] ")  # "[mp4 @ 0x55f39a2f7e00] " → "[mp4] "


def binary(name: str = "ffmpeg") -> str:
    """The path of ``ffmpeg`` or ``ffprobe``; a MediaError that says how to install it when missing."""
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"{name} was not found on PATH", hint=INSTALL_HINT)
    return path


def last_line(stderr: bytes | str | None) -> str:
    """ffmpeg's last line of stderr that says what went wrong: its generic closing words ("Conversion
    failed!", "Error initializing output stream 0:0 --") are passed over for the line that explains them."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr or ""
    lines = [ADDRESS.sub("[\\1] ", line).strip() for line in text.splitlines() if line.strip()]
    telling = [line for line in lines if not GENERIC.match(line)]
    return (telling or lines or ["no message"])[-1]


def run(stream: Any, *, what: str, url: str | None = None) -> None:
    """Run an ffmpeg-python output stream (overwriting its output); ``what`` names the job for errors."""
    _execute(ffmpeg.compile(stream.global_args(*QUIET), cmd=binary(), overwrite_output=True), what, url)


def run_args(args: list[str], *, what: str, url: str | None = None, capture: bool = False) -> bytes:
    """Run ffmpeg with plain arguments (overwriting its output); its stdout when ``capture``."""
    return _execute([binary(), *QUIET, "-y", *args], what, url, capture)


def _execute(command: list[str], what: str, url: str | None, capture: bool = False) -> bytes:
    log.debug("running %s", shlex.join(command))
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise MediaError(f"ffmpeg failed while {what}: {last_line(result.stderr)}", url=url)
    return result.stdout if capture else b""


def probe(path: Path, *, url: str | None = None, **options: Any) -> dict[str, Any]:
    """ffprobe's JSON for ``path`` (format and streams; e.g. ``show_chapters=None`` adds chapters)."""
    command = binary("ffprobe")
    log.debug("probing %s", path)
    try:
        return ffmpeg.probe(str(path), cmd=command, **{"v": "error", **options})
    except ffmpeg.Error as e:
        raise MediaError(f"ffprobe could not read {Path(path).name}: {last_line(e.stderr)}", url=url) from e
