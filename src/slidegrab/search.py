"""Searching library.db: what a user types → an FTS5 query, and what a hit is (talk, time, slide, snippet).

FTS5 query syntax passes through: phrases in double quotes, ``prefix*``, ``NEAR(a b, 5)``, ``AND``/``OR``/
``NOT``, column filters. One convenience: a bareword holding punctuation FTS5 rejects (``k-winners-take-all``,
``U-Net``, ``e.g.``) is quoted for the user, which is what they meant — the tokenizer splits it into the same
words as the text. A query FTS5 still cannot parse raises ``UsageError`` with one line saying why.
"""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slidegrab.errors import UsageError

OPEN, CLOSE, ELLIPSIS = "«", "»", "…"  # highlight markers in snippets: no ANSI, not rich markup
KINDS = ("title", "slide", "speech")
# bm25 is negative (more negative = better); a talk's title and its slides say what the talk is about,
# so their matches count more than one passing mention in the speech.
WEIGHTS = {"title": 3.0, "slide": 1.5, "speech": 1.0}
SNIPPET_TOKENS = 16
HINT = 'put phrases in double quotes, e.g. "k-winners-take-all"; operators: AND, OR, NOT, NEAR(a b, 5), prefix*'

_RUN = re.compile(r'\w[^\s"()*:^+{},]*')  # a word as typed, up to FTS5's own syntax characters
_BAREWORD = re.compile(r"(?:[A-Za-z0-9_\x1a]|[^\x00-\x7f])+")  # what FTS5 accepts unquoted
_WEIGHT_SQL = " ".join(f"WHEN '{kind}' THEN {weight}" for kind, weight in WEIGHTS.items())
RANK_SQL = """
SELECT search.rowid, e.talk_id, e.kind, e.start, e."end", e.slide,
       bm25(search) * CASE e.kind {weights} ELSE 1.0 END AS score, e.text
FROM search JOIN entries AS e ON e.id = search.rowid
WHERE search MATCH :match AND e.kind IN ({kinds})
ORDER BY score, e.talk_id, e.start, e.kind, e."end", e.text
LIMIT :limit
"""
# one statement: every match is ranked, then only the best get a snippet and their talk's row
HITS_SQL = """
WITH top AS ({rank})
SELECT top.*, snippet(search, 0, :open, :close, :ellipsis, :tokens), t.title, t.speakers, t.folder, t.mp4
FROM top JOIN search ON search.rowid = top.rowid JOIN talks AS t ON t.id = top.talk_id
WHERE search MATCH :match
ORDER BY top.score, top.talk_id, top.start, top.kind, top."end", top.text
"""


@dataclass(frozen=True)
class Hit:
    talk_id: str
    title: str
    speakers: tuple[str, ...]
    folder: Path
    mp4: Path | None  # the talk's slides-video.mp4, None until the merge stage has written it
    kind: str  # "title", "slide" or "speech"
    start: float  # seconds into the talk: where to seek
    end: float
    slide: int | None  # 1-based slide number; None for title hits and speech outside any slide
    snippet: str  # the matching text, matches between « and »
    rank: float  # weighted bm25: lower is better (FTS5's convention)

    @property
    def seek(self) -> str | None:
        """The MP4 at this hit's time as a media-fragment URI (``file:///…/slides-video.mp4#t=192``)."""
        return f"{self.mp4.as_uri()}#t={int(self.start)}" if self.mp4 else None

    @property
    def player_command(self) -> str | None:
        """A command line that plays the MP4 from this hit (mpv; seconds rounded down)."""
        return shlex.join(["mpv", f"--start={int(self.start)}", str(self.mp4)]) if self.mp4 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "talk_id": self.talk_id,
            "title": self.title,
            "speakers": list(self.speakers),
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "slide": self.slide,
            "snippet": self.snippet,
            "rank": self.rank,
            "folder": str(self.folder),
            "mp4": str(self.mp4) if self.mp4 else None,
            "seek": self.seek,
        }


def clock(seconds: float) -> str:
    """``5:31`` or ``1:02:03`` (rounded down: seeking there lands before the words)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_hit(hit: Hit) -> str:
    """Plain-text lines: the talk; where (time, slide, what matched); the snippet; how to play it there."""
    who = f" — {', '.join(hit.speakers)}" if hit.speakers else ""
    where = [clock(hit.start)] + ([f"slide {hit.slide}"] if hit.slide is not None else []) + [hit.kind]
    play = hit.player_command or f"{hit.folder} (no slides-video.mp4 yet)"
    return "\n".join([f"{hit.title}{who}", f"  {' · '.join(where)}", f"  {hit.snippet}", f"  {play}"])


def prepare(query: str) -> str:
    """The FTS5 query for what the user typed; raises UsageError for what can be told before running it."""
    text = query.strip()
    if not text:
        raise UsageError("empty search query", hint=HINT)
    if text.count('"') % 2:
        raise malformed(query, "unbalanced quote")
    parts = text.split('"')  # even parts are outside quotes
    parts[::2] = [_RUN.sub(_quote_if_needed, part) for part in parts[::2]]
    return '"'.join(parts)


def _quote_if_needed(match: re.Match) -> str:
    word = match.group()
    return word if _BAREWORD.fullmatch(word) else f'"{word}"'


def malformed(query: str, problem: str) -> UsageError:
    return UsageError(f"malformed search query {query!r}: {problem}", hint=HINT)


def problem(error: sqlite3.Error) -> str | None:
    """Why FTS5 rejected a query, in words; None when the error is not about the query."""
    text = str(error)
    if text == "unterminated string":
        return "unbalanced quote"
    if m := re.fullmatch(r'fts5: syntax error near "(.*)"', text, re.DOTALL):
        if m[1] in ("AND", "OR", "NOT"):
            return f"{m[1]} needs a term on each side (a {m[1]} b)"
        return f'unexpected "{m[1]}"' if m[1] else "it ends too early (after an operator, NEAR( or an open bracket)"
    if m := re.fullmatch(r"no such column: (.*)", text, re.DOTALL):
        return f'"{m[1]}" is not a column (a word before ":" or after "-" names a column)'
    if text.startswith("unknown special query"):
        return "a query cannot start with *"
    if text.startswith("expected integer"):
        return "NEAR(…, N) needs a whole number of words as N"
    return text if text.startswith("fts5:") else None


def check_kinds(kinds: Iterable[str] | None) -> tuple[str, ...]:
    chosen = KINDS if kinds is None else tuple(dict.fromkeys([kinds] if isinstance(kinds, str) else kinds))
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise UsageError(f"unknown kind of hit: {', '.join(unknown) or 'none given'}", hint=f"use {', '.join(KINDS)}")
    return chosen


def run(conn: sqlite3.Connection, root: Path, query: str, limit: int, kinds: Iterable[str] | None) -> list[Hit]:
    """The best ``limit`` hits for ``query``: every match is ranked, then only those get snippets and talks."""
    match, chosen = prepare(query), check_kinds(kinds)
    if limit < 1:
        raise UsageError(f"--limit {limit}: must be at least 1")
    kind_names = {f"kind{n}": kind for n, kind in enumerate(chosen)}
    rank = RANK_SQL.format(weights=_WEIGHT_SQL, kinds=", ".join(f":{name}" for name in kind_names))
    values = {"match": match, "limit": limit, **kind_names}
    values |= {"open": OPEN, "close": CLOSE, "ellipsis": ELLIPSIS, "tokens": SNIPPET_TOKENS}
    try:
        rows = conn.execute(HITS_SQL.format(rank=rank), values).fetchall()
    except sqlite3.OperationalError as error:
        if (why := problem(error)) is None:
            raise
        raise malformed(query, why) from None
    folders: dict[str, Path] = {}
    return [_hit(root, row, folders) for row in rows]


def _hit(root: Path, row: tuple, folders: dict[str, Path]) -> Hit:
    _, talk_id, kind, start, end, slide, score, _, snippet, title, speakers, folder, mp4 = row
    path = folders.get(folder) or folders.setdefault(folder, root / folder)
    return Hit(
        talk_id=talk_id,
        title=title,
        speakers=tuple(json.loads(speakers)),
        folder=path,
        mp4=path / mp4 if mp4 else None,
        kind=kind,
        start=start,
        end=end,
        slide=slide,
        snippet=" ".join(snippet.split()),
        rank=score,
    )
