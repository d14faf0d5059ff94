"""The archive on disk (ARCHITECTURE.md "The archive", a contract): one folder per talk, named
``<id>-<slug>``, holding ``talk.json`` and every stage's outputs.

``talk.json`` records the Talk, its slides with start/end seconds and files, where it came from, and per
stage whether it is done (with what it wrote) or failed (with the error). It is rewritten atomically after
every change, so it never claims a stage is done before that stage's outputs are in place.

A full disk (or a used-up quota, or the file size limit) fails the talk with one line saying so, wherever
it is met: in our own writes, in ffmpeg's or yt-dlp's. As every output is written under a temporary name,
nothing already complete is lost, and talk.json keeps its last complete version.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slidegrab.errors import SlidegrabError, UsageError
from slidegrab.talk import Talk, temp_path, write_json_atomic
from slidegrab.urls import parse_talk_url, slugify

FORMAT = 1
TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{8}\.part")  # what talk.temp_path makes
TALK_JSON = "talk.json"
DISK_FULL = {  # what ran out, and what to do
    errno.ENOSPC: ("no space left on the disk", "free space and run again"),
    errno.EDQUOT: ("the disk quota is used up", "free space or raise the quota, and run again"),
    errno.EFBIG: ("a file outgrew the file size limit", "raise the limit (ulimit -f) and run again"),
}
# how ffmpeg, yt-dlp and SQLite report them
_DISK_FULL_WORDS = {os.strerror(code): code for code in DISK_FULL} | {"database or disk is full": errno.ENOSPC}
NEARLY_FULL = 1024 * 1024  # bytes free, below which an unexplained I/O error is blamed on the disk
PARTIAL_DOWNLOADS = ("*.part", "*.part-Frag*", "*.ytdl")  # yt-dlp's resume state (and our own temporary files)


class DiskFullError(SlidegrabError):
    """The disk ran out while writing a talk: nothing a retry now would fix, so the batch says what to do."""


def disk_full(error: BaseException, where: Path, talk_id: str | None = None) -> SlidegrabError | None:
    """The one-line error for a full disk met while writing under ``where``; None for any other error."""
    if isinstance(error, DiskFullError):
        return error
    code = error.errno if isinstance(error, OSError) else None
    if code not in DISK_FULL:
        code = next((c for words, c in _DISK_FULL_WORDS.items() if words in str(error)), None)
    if code is None and "disk I/O error" in str(error) and _nearly_full(where):
        code = errno.ENOSPC  # SQLite says so when its -wal or -shm file cannot grow
    if code is None:
        return None
    what, hint = DISK_FULL[code]
    return DiskFullError(f"{f'talk {talk_id}: ' if talk_id else ''}{what} at {where}", hint=hint)


def _nearly_full(where: Path) -> bool:
    path = next((p for p in (where, *where.parents) if p.exists()), Path("."))
    return shutil.disk_usage(path).free < NEARLY_FULL


@contextmanager
def disk_guard(where: Path, talk_id: str | None = None, on_full: Callable[[], None] | None = None) -> Iterator[None]:
    """Turn a full disk met inside the block (an OSError, or any tool's error that reports one: yt-dlp raises
    its own classes) into DiskFullError; ``on_full`` cleans up first."""
    try:
        yield
    except Exception as e:
        full = disk_full(e, where, talk_id)
        if full is None:
            raise
        if on_full is not None:
            on_full()
        if full is e:
            raise
        raise full from e


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TalkFolder:
    path: Path
    state: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> TalkFolder:
        state = json.loads((path / TALK_JSON).read_text(encoding="utf-8"))
        return cls(path, state)

    @property
    def talk(self) -> Talk:
        return Talk.from_dict(self.state["talk"])

    def stage(self, name: str) -> dict[str, Any]:
        return self.state.get("stages", {}).get(name, {})

    def is_done(self, name: str) -> bool:
        return self.stage(name).get("status") == "done"

    def update(self, **changes: Any) -> None:
        """Merge top-level keys into talk.json and write it atomically."""
        with self._lock, self.disk_guard():
            self.state.update(changes)
            write_json_atomic(self.path / TALK_JSON, self.state)

    def mark(self, name: str, status: str, **info: Any) -> None:
        """Record a stage as ``done`` (with what it wrote) or ``failed`` (with the error)."""
        with self._lock, self.disk_guard():
            stages = self.state.setdefault("stages", {})
            stages[name] = {"status": status, "at": now(), **info}
            write_json_atomic(self.path / TALK_JSON, self.state)

    def disk_guard(self) -> AbstractContextManager[None]:
        """A full disk met in the block becomes this talk's DiskFullError (see ``disk_guard``), and drops
        yt-dlp's partial downloads: it records a fragment as appended even when the disk refused it, so what
        it would resume from can no longer be trusted (the rerun downloads that media again)."""
        return disk_guard(self.path, self.state.get("talk", {}).get("id"), self.drop_partial_downloads)

    def drop_partial_downloads(self) -> None:
        for pattern in PARTIAL_DOWNLOADS:
            for path in self.path.glob(pattern):
                path.unlink(missing_ok=True)

    def sweep(self) -> list[Path]:
        """Remove temporary files a killed run left behind (ours only: yt-dlp's .part files resume)."""
        stale = [p for p in self.path.rglob(".*.part") if TEMP_NAME.fullmatch(p.name)]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    @contextmanager
    def writing(self, relative: str) -> Iterator[Path]:
        """A temporary path beside ``relative``; renamed onto it only if the block finishes."""
        target = self.path / relative
        tmp = temp_path(target)
        try:
            with self.disk_guard():
                target.parent.mkdir(parents=True, exist_ok=True)
                yield tmp
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


class Archive:
    """The archive folder: finds a URL's talk folder without the network, and makes new ones."""

    def __init__(self, root: Path):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--output {self.root}: is a file, not a folder", hint="name a folder")
        self._pages: dict[str, Path] | None = None

    def folder_name(self, talk: Talk) -> str:
        return f"{talk.id}-{slugify(talk.title)}"

    def create(self, talk: Talk, source_url: str) -> TalkFolder:
        path = self.root / self.folder_name(talk)
        with disk_guard(path, talk.id):
            path.mkdir(parents=True, exist_ok=True)
        if (path / TALK_JSON).exists():
            folder = TalkFolder.load(path)
            folder.update(talk=talk.to_dict())
            return folder
        folder = TalkFolder(path, {"format": FORMAT, "talk": talk.to_dict(), "source_url": source_url})
        folder.mark("resolve", "done")
        return folder

    def find(self, url: str) -> TalkFolder | None:
        """The folder a URL was archived in before (by talk id, or by the page it was resolved from)."""
        if talk_url := parse_talk_url(url):
            for path in sorted(self.root.glob(f"{talk_url.id}-*/{TALK_JSON}")):
                return self._load(path.parent)
            return None
        path = self._page_index().get(url)
        return self._load(path) if path else None

    def _load(self, path: Path) -> TalkFolder | None:
        try:
            folder = TalkFolder.load(path)
        except (OSError, ValueError):
            return None  # unreadable talk.json: resolve again and rewrite it
        return folder if folder.is_done("resolve") else None

    def _page_index(self) -> dict[str, Path]:
        if self._pages is None:
            self._pages = {}
            for path in self.root.glob(f"*/{TALK_JSON}"):
                try:
                    state = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                for url in (state.get("source_url"), state.get("talk", {}).get("page_url")):
                    if url:
                        self._pages.setdefault(url, path.parent)
        return self._pages


def slide_table(folder: TalkFolder) -> list[dict[str, Any]]:
    """Slides with start/end seconds, files and OCR text: the first covers from its own start (the merge
    shows it from 0), each ends where the next begins, the last at the end of the audio (else of the talk)."""
    talk = folder.talk
    files = folder.stage("slides").get("files") or [None] * len(talk.slides)
    end_of_talk = folder.stage("audio").get("duration") or talk.duration or 0.0
    texts = folder.stage("ocr").get("texts") or [None] * len(talk.slides)
    starts = [s.start for s in talk.slides]
    ends = starts[1:] + [max(end_of_talk, starts[-1] if starts else 0.0)]
    return [
        {"index": s.index, "start": s.start, "end": end, "file": file, "kind": s.kind, "text": text}
        for s, end, file, text in zip(talk.slides, ends, files, texts, strict=True)
    ]
