"""The contract every stage after resolution shares (download, merge, and later transcribe, index).

A stage is a function of the talk folder: it reads what earlier stages wrote, writes its own outputs
through ``TalkFolder.writing`` (a temporary name, renamed when complete) and returns what talk.json should
record about it. ``run_stage`` skips a stage whose record says done and whose outputs all exist, and
records ``failed`` with the error line when it raises, so a rerun retries only what failed.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import requests

from slidegrab.archive import TalkFolder
from slidegrab.cores import CpuShare
from slidegrab.errors import SlidegrabError
from slidegrab.net import NetConfig


def _ignore_progress(stage: str, done: float | None = None, total: float | None = None) -> None:
    return None


@dataclass
class StageContext:
    net: NetConfig
    session: requests.Session
    # progress(what, done, total): called often; done/total in bytes or items, None when unknown
    progress: Callable[[str, float | None, float | None], None] = _ignore_progress
    cancel: threading.Event = field(default_factory=threading.Event)
    cpu: CpuShare = field(default_factory=lambda: CpuShare.for_jobs(1))  # this talk's share of the cores


class Stage(ABC):
    name: ClassVar[str]

    def outputs(self, folder: TalkFolder) -> list[Path]:
        """The files that must exist for this stage to count as done (default: those it recorded)."""
        return [folder.path / f for f in folder.stage(self.name).get("files", ())]

    def complete(self, folder: TalkFolder) -> bool:
        return folder.is_done(self.name) and all(p.is_file() for p in self.outputs(folder))

    @abstractmethod
    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        """Do the work; return what talk.json records (include ``files``: paths relative to the folder)."""


def run_stage(stage: Stage, folder: TalkFolder, ctx: StageContext, *, force: bool = False) -> bool:
    """Run ``stage`` unless it is complete (or ``force``: its inputs changed); True when it did work.
    Failures are recorded, then raised."""
    if not force and stage.complete(folder):
        return False
    try:
        with folder.disk_guard():  # a full disk, wherever met (ours, ffmpeg, yt-dlp), fails in one clear line
            info = stage.run(folder, ctx)
    except SlidegrabError as e:
        folder.mark(stage.name, "failed", error=str(e))
        raise
    except Exception as e:  # a bug, but the record must still not say done
        folder.mark(stage.name, "failed", error=f"internal error: {type(e).__name__}: {e}")
        raise
    folder.mark(stage.name, "done", **info)
    return True
