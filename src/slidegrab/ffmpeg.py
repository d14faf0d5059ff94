"""Running ffmpeg and ffprobe: commands built with ffmpeg-python, run as argument lists (never a shell),
logged at debug level; a failure becomes a MediaError carrying ffmpeg's own last line of complaint.

Given a ``cancel`` event, a run is watched: when the event is set (Ctrl-C), ffmpeg is stopped and the run
ends in an "interrupted" SlidegrabError within a fraction of a second, however long the encode would take.
ffmpeg that a signal stopped (a Ctrl-C reaches it too, in the terminal's process group) ends the same way.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import ffmpeg

from slidegrab.errors import MediaError, SlidegrabError

log = logging.getLogger("slidegrab.ffmpeg")

INSTALL_HINT = "install ffmpeg 5.1 or newer (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg)"
QUIET = ("-hide_banner", "-nostdin", "-loglevel", "error")
GENERIC = re.compile(r"Conversion failed!|Error initializing output stream|Could not write header for output file")
ADDRESS = re.compile(r"\[([^\]]+?) @ 0x[0-9a-f]+\] ")  # "[mp4 @ 0x55f39a2f7e00] " → "[mp4] "
POLL_S = 0.1  # how often a running ffmpeg looks at its cancel event
SIGNALLED = 255  # ffmpeg's exit status after a SIGINT or SIGTERM (it says nothing on stderr then)


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


def run(stream: Any, *, what: str, url: str | None = None, cancel: threading.Event | None = None) -> None:
    """Run an ffmpeg-python output stream (overwriting its output); ``what`` names the job for errors."""
    command = ffmpeg.compile(stream.global_args(*QUIET), cmd=binary(), overwrite_output=True)
    _execute(command, what, url, cancel=cancel)


def run_args(
    args: list[str], *, what: str, url: str | None = None, capture: bool = False, cancel: threading.Event | None = None
) -> bytes:
    """Run ffmpeg with plain arguments (overwriting its output); its stdout when ``capture``."""
    return _execute([binary(), *QUIET, "-y", *args], what, url, capture, cancel)


def _execute(
    command: list[str], what: str, url: str | None, capture: bool = False, cancel: threading.Event | None = None
) -> bytes:
    log.debug("running %s", shlex.join(command))
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        stdout, stderr = _communicate(child, cancel, what, url)
    if child.returncode < 0 or (child.returncode == SIGNALLED and not stderr.strip()):
        raise SlidegrabError(f"interrupted while {what} (ffmpeg was stopped by a signal)", url=url)
    if child.returncode != 0:
        raise MediaError(f"ffmpeg failed while {what}: {last_line(stderr)}", url=url)
    return stdout if capture else b""


def _communicate(
    child: subprocess.Popen, cancel: threading.Event | None, what: str, url: str | None
) -> tuple[bytes, bytes]:
    """ffmpeg's output once it has exited; when ``cancel`` is set first, ffmpeg is stopped and the run ends
    as interrupted (the caller's temporary output is then removed by whoever made it)."""
    while True:
        try:
            return child.communicate(timeout=POLL_S if cancel is not None else None)
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                _stop(child)
                raise SlidegrabError(f"interrupted while {what}", url=url) from None


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM (ffmpeg stops at once), SIGKILL if it has not within two seconds; reaped either way."""
    child.terminate()
    try:
        child.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()


def probe(path: Path, *, url: str | None = None, **options: Any) -> dict[str, Any]:
    """ffprobe's JSON for ``path`` (format and streams; e.g. ``show_chapters=None`` adds chapters)."""
    command = binary("ffprobe")
    log.debug("probing %s", path)
    try:
        return ffmpeg.probe(str(path), cmd=command, **{"v": "error", **options})
    except ffmpeg.Error as e:
        raise MediaError(f"ffprobe could not read {Path(path).name}: {last_line(e.stderr)}", url=url) from e
