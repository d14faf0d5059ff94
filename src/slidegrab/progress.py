"""Progress displays, chosen from context (as httpie does): none when stderr is not a terminal or under
``-q``; rich bars otherwise — one for the batch, one per talk in flight, bytes for downloads.

The pipeline only calls the display's methods; it never draws anything itself.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


class Display:
    """The silent display: the interface, doing nothing."""

    def start(self, total: int) -> None: ...
    def talk_started(self, key: str, label: str) -> None: ...
    def talk_named(self, key: str, label: str) -> None: ...
    def talk_progress(self, key: str, stage: str, done: float | None, total: float | None) -> None: ...
    def talk_finished(self, key: str) -> None: ...
    def stop(self) -> None: ...


class RichDisplay(Display):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<44.44}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[detail]}", markup=False),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._total = 0
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._batch = None

    def start(self, total: int) -> None:
        self._progress.start()
        self._total = total
        self._batch = self._progress.add_task("talks", total=total, detail=f"0/{total} talks")

    def talk_started(self, key: str, label: str) -> None:
        with self._lock:
            self._tasks[key] = self._progress.add_task(label, total=None, detail="resolving")

    def talk_named(self, key: str, label: str) -> None:
        if (task := self._tasks.get(key)) is not None:
            self._progress.update(task, description=label)

    def talk_progress(self, key: str, stage: str, done: float | None, total: float | None) -> None:
        if (task := self._tasks.get(key)) is None:
            return
        detail = stage if done is None else f"{stage} {_amount(stage, done, total)}"
        self._progress.update(task, completed=done or 0, total=total if done is not None else None, detail=detail)

    def talk_finished(self, key: str) -> None:
        with self._lock:
            task = self._tasks.pop(key, None)
        if task is not None:
            self._progress.remove_task(task)
        self._progress.advance(self._batch)
        done = int(self._progress.tasks[0].completed)
        self._progress.update(self._batch, detail=f"{done}/{self._total} talks")

    def stop(self) -> None:
        self._progress.stop()


def _amount(stage: str, done: float, total: float | None) -> str:
    if stage == "audio":
        return f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
    if stage == "transcribe":
        return f"{done:.0f}/{total:.0f} s" if total else f"{done:.0f} s"
    return f"{int(done)}/{int(total)}" if total else f"{int(done)}"


def choose_display(quiet: bool, stream=None) -> Display:
    stream = stream or sys.stderr
    if quiet or not stream.isatty():
        return Display()
    return RichDisplay()
