"""How results look on a terminal (rich); JSON output is the commands' own business."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from slidegrab.talk import Talk


def _console() -> Console:
    """Rich on a terminal; when piped, wide enough that rows are not folded (grep-friendly)."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}.{int(round((seconds - s) * 1000)):03d}"


def print_talk(talk: Talk, console: Console | None = None) -> None:
    console = console or _console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for key, value in (
        ("Title", talk.title),
        ("Id", talk.id),
        ("URL", talk.url),
        ("Page", talk.page_url),
        ("Speakers", ", ".join(talk.speakers)),
        ("Conference", talk.conference),
        ("Duration", _clock(talk.duration)),
        ("Starts at", _clock(talk.start_offset) if talk.start_offset else None),
        ("Media", f"{talk.media.service} {talk.media.url}"),
        ("Referer", talk.media.headers.get("Referer")),
        ("Subtitles", ", ".join(f"{s.language} ({s.name})" for s in talk.subtitles)),
        ("Slides", str(len(talk.slides))),
    ):
        if value:
            head.add_row(key, Text(value))
    console.print(head)
    if talk.slides:
        table = Table("#", "start", "kind", "image")
        table.columns[3].overflow = "fold"
        for s in talk.slides:
            table.add_row(
                str(s.index), _clock(s.start), s.kind, Text(s.image_url or (s.video.url if s.video else "") or "")
            )
        console.print(table)


def print_urls(page_url: str, urls: list[str], console: Console | None = None) -> None:
    console = console or _console()
    for url in urls:
        console.print(url, markup=False, soft_wrap=True)
    Console(stderr=True).print(f"{len(urls)} talk(s) on {page_url}", markup=False)


STATUS = {"done": "[green]done[/]", "complete": "[cyan]skipped[/] (already complete)", "failed": "[red]failed[/]"}


def print_summary(results, archive, console: Console | None = None) -> None:
    """The batch's table: one row per talk, done / skipped / failed and why."""
    console = console or _console()
    table = Table("talk", "status", "folder or error", title=f"slidegrab: {archive}")
    table.columns[2].overflow = "fold"
    for r in results:
        name = Text(f"{r.talk_id} {r.title}" if r.talk_id else r.url)
        detail = Text(r.error if r.status == "failed" else str(r.folder.name if r.folder else ""))
        table.add_row(name, STATUS[r.status], detail)
    console.print(table)
    counts = {s: sum(r.status == s for r in results) for s in STATUS}
    if counts["complete"] == len(results):
        console.print(f"Nothing to do: all {len(results)} talk(s) are already complete in {archive}.")
    else:
        console.print(
            f"{counts['done']} fetched, {counts['complete']} already complete, {counts['failed']} failed.",
        )
