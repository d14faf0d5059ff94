"""library.db: one SQLite index per archive, built from the talk folders alone (ARCHITECTURE.md "Index and search").

Schema (yt-fts-like, small): ``talks`` (one row per talk), ``entries`` (one row per title, slide and transcript
segment: kind, talk, start/end seconds, slide number, text), the views ``slides`` and ``segments`` over it, and
``search``, an FTS5 index over ``entries.text`` kept in step by triggers (external content: no second copy
of the text). The tokenizer is ``porter unicode61 remove_diacritics 2``: "perturbations" finds "perturbation",
"schrodinger" finds "Schrödinger", and "k-winners-take-all" is the words k, winners, take, all, so the exact
phrase and each part are found.

The index is derived data: ``rebuild`` recreates it from the folders, deterministically, and it is rebuilt
on open when it is missing, unreadable, of another schema version, or empty while talk folders exist.
Use one ``Library`` per archive per process (it is thread-safe); every write is one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slidegrab import search
from slidegrab.archive import TALK_JSON, TEMP_NAME
from slidegrab.errors import SlidegrabError, UsageError
from slidegrab.search import Hit, format_hit  # noqa: F401 - re-exported: the library's API
from slidegrab.talk import temp_path

DB_NAME = "library.db"
MP4 = "slides-video.mp4"
TRANSCRIPT = "transcript.json"
DB_HINT = "is another slidegrab writing it? If this persists, delete it: it is rebuilt from the talk folders"
REFETCH, RETRANSCRIBE = "fetch the talk again to rewrite it", "transcribe the talk again"
SCHEMA_VERSION = 1
SCHEMA = (
    """CREATE TABLE talks (id TEXT PRIMARY KEY, folder TEXT NOT NULL, title TEXT NOT NULL, speakers TEXT NOT NULL,
        conference TEXT, url TEXT, page_url TEXT, duration REAL, mp4 TEXT, updated TEXT)""",
    """CREATE TABLE entries (id INTEGER PRIMARY KEY, talk_id TEXT NOT NULL, kind TEXT NOT NULL,
        start REAL NOT NULL, "end" REAL NOT NULL, slide INTEGER, text TEXT NOT NULL)""",
    "CREATE INDEX entries_by_talk ON entries (talk_id, kind, start)",
    """CREATE VIEW slides AS SELECT talk_id, slide AS idx, start, "end", text FROM entries WHERE kind = 'slide'""",
    """CREATE VIEW segments AS SELECT talk_id, start, "end", slide, text FROM entries WHERE kind = 'speech'""",
    """CREATE VIRTUAL TABLE search USING fts5 (text, content = 'entries', content_rowid = 'id',
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN
        INSERT INTO search (rowid, text) VALUES (new.id, new.text); END""",
    """CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN
        INSERT INTO search (search, rowid, text) VALUES ('delete', old.id, old.text); END""",
)

log = logging.getLogger(__name__)


class _Outdated(Exception):
    pass


class Library:
    def __init__(self, db_path: Path | str, *, derive: bool = True):
        """``derive=False``: a missing or empty index stays empty (a shard's index, a merge's target)."""
        self.path = Path(db_path).absolute()
        self.derive = derive
        self.root = self.path.parent  # the archive: talks.folder is relative to it
        if not self.root.is_dir():
            raise UsageError(f"{self.root}: no such archive folder", hint="give the folder `slidegrab fetch -o` wrote")
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._open()

    @classmethod
    def for_archive(cls, root: Path | str) -> Library:
        return cls(Path(root) / DB_NAME)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def add_talk(self, folder: Path | str) -> str:
        """Index (or re-index) one talk folder from its files; returns the talk id."""
        record = read_talk(Path(folder), self.root)
        with self._transaction() as conn:
            _replace(conn, record)
        return record[0][0]

    def has_talk(self, talk_id: str) -> bool:
        with self._lock, self._errors():
            return self._connection().execute("SELECT 1 FROM talks WHERE id = ?", (talk_id,)).fetchone() is not None

    def remove_talk(self, talk_id: str) -> bool:
        """Drop a talk from the index; False when it was not there."""
        with self._transaction() as conn:
            return _delete(conn, talk_id)

    def rebuild(self, archive_root: Path | str | None = None) -> int:
        """Recreate the index from the talk folders alone; returns how many talks it holds. Built in a
        temporary file first: a rebuild that fails leaves the index as it was."""
        root = Path(archive_root).absolute() if archive_root else self.root
        return self._replace_all(_read_folders(root, self.root))

    def merge(self, sources: Iterable[Path | str]) -> int:
        """Make this index the union of other indexes (a sharded fetch's ``library-shard-K-of-N.db``):
        one row per talk, the most recently updated copy when several hold it (the first source on a tie),
        written in folder order as a rebuild writes them. Built in a temporary file and installed in one
        step: a merge that fails leaves the index as it was. Returns how many talks it holds."""
        records: dict[str, tuple[tuple, list[tuple]]] = {}
        for source in sorted({Path(s).absolute() for s in sources} - {self.path}):
            for record in _read_index(source, self.root):
                held = records.get(record[0][0])
                if held is None or record[0][9] > held[0][9]:
                    records[record[0][0]] = record
        return self._replace_all(sorted(records.values(), key=lambda record: (record[0][1], record[0][0])))

    def _replace_all(self, records: Iterable[tuple[tuple, list[tuple]]]) -> int:
        with self._lock, self._errors():
            _sweep_temps(self.path)
            tmp = temp_path(self.path)
            try:
                count = _build(tmp, records)
                self._install(tmp)
            finally:
                tmp.unlink(missing_ok=True)
        return count

    def search(self, query: str, *, limit: int = 20, kinds: Iterable[str] | None = None) -> list[Hit]:
        """The best hits, best first. ``kinds`` limits them to "title", "slide" and/or "speech"."""
        with self._lock, self._errors():
            return search.run(self._connection(), self.root, query, limit, kinds)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SlidegrabError(f"{self.path}: the library is closed")
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite failing (locked past the timeout, disk full, damaged file): one line, not a traceback."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise SlidegrabError(f"{self.path}: {error}", hint=DB_HINT) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _open(self) -> None:
        if self.derive and not self.path.exists() and talk_folders(self.root):
            log.info("%s: missing; building it from the talk folders", self.path)
            self.rebuild()
            return
        try:
            self._conn = _connect(self.path)
            empty = not self._conn.execute("SELECT EXISTS (SELECT 1 FROM talks)").fetchone()[0]
        except sqlite3.OperationalError as error:  # locked, unwritable, …: nothing a rebuild would fix
            self.close()
            raise SlidegrabError(f"{self.path}: {error}", hint=DB_HINT) from None
        except (sqlite3.DatabaseError, _Outdated) as error:
            log.warning("%s: %s; rebuilding it from the talk folders", self.path, error)
            self.close()
            self.rebuild()
            return
        if self.derive and empty and talk_folders(self.root):
            self.rebuild()

    def _install(self, tmp: Path) -> None:
        """Make the built file the index: copied in one transaction over an open index (so that other
        connections stay valid), renamed into place when there is none."""
        if self._conn is not None:
            source = sqlite3.connect(f"{tmp.as_uri()}?mode=ro", uri=True)  # never an empty new file
            try:
                source.backup(self._conn)
            finally:
                source.close()
            return
        for stale in (self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")):
            stale.unlink(missing_ok=True)  # the WAL of an unreadable file must not be replayed into the new one
        os.replace(tmp, self.path)
        self._conn = _connect(self.path)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            _create_schema(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    if version not in (0, SCHEMA_VERSION):
        conn.close()
        raise _Outdated(f"schema version {version}, this slidegrab uses {SCHEMA_VERSION}")
    return conn


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _read_folders(root: Path, base: Path) -> Iterator[tuple[tuple, list[tuple]]]:
    """The records of the talk folders under ``root``, in name order; unreadable ones are logged and skipped."""
    for folder in talk_folders(root):
        try:
            yield read_talk(folder, base)
        except SlidegrabError as error:
            log.warning("%s; not indexed", error)


def _read_index(source: Path, base: Path) -> list[tuple[tuple, list[tuple]]]:
    """Every talk of another index file, its folder made relative to ``base`` (absolute when outside it)."""
    if not source.is_file():
        raise UsageError(f"{source}: no such index", hint="give library-shard-*.db files or archives holding them")
    try:
        conn = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            if (version := conn.execute("PRAGMA user_version").fetchone()[0]) != SCHEMA_VERSION:
                message = f"{source}: index schema version {version}, this slidegrab uses {SCHEMA_VERSION}"
                raise SlidegrabError(message, hint="fetch that shard again to rebuild its index")
            talks = conn.execute("SELECT * FROM talks ORDER BY folder, id").fetchall()
            return [(_rebased(talk, source.parent, base), _entries(conn, talk[0])) for talk in talks]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise SlidegrabError(f"{source}: {error}", hint="is it a slidegrab library-*.db?") from None


def _entries(conn: sqlite3.Connection, talk_id: str) -> list[tuple]:
    query = 'SELECT kind, start, "end", slide, text FROM entries WHERE talk_id = ? ORDER BY id'
    return conn.execute(query, (talk_id,)).fetchall()


def _rebased(talk: tuple, root: Path, base: Path) -> tuple:
    return (talk[0], _relative(root / talk[1], base), *talk[2:])


def _build(tmp: Path, records: Iterable[tuple[tuple, list[tuple]]]) -> int:
    """A complete index of ``records`` (talks row, entries) in a new file ``tmp``; returns the talk count."""
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # a failed build is thrown away, not rolled back
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        _create_schema(conn)
        count = 0
        for record in records:
            _replace(conn, record)
            count += 1
        conn.execute("INSERT INTO search (search) VALUES ('optimize')")
        conn.execute("COMMIT")
    finally:
        conn.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return count


def _sweep_temps(db: Path) -> None:
    """Remove what a killed rebuild left beside library.db."""
    for path in db.parent.glob(f".{db.name}.*.part"):
        if TEMP_NAME.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _replace(conn: sqlite3.Connection, record: tuple[tuple, list[tuple]]) -> None:
    talk, entries = record
    _delete(conn, talk[0])
    conn.execute("INSERT INTO talks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", talk)
    conn.executemany(
        'INSERT INTO entries (talk_id, kind, start, "end", slide, text) VALUES (?, ?, ?, ?, ?, ?)',
        [(talk[0], *entry) for entry in entries],
    )


def _delete(conn: sqlite3.Connection, talk_id: str) -> bool:
    conn.execute("DELETE FROM entries WHERE talk_id = ?", (talk_id,))
    return conn.execute("DELETE FROM talks WHERE id = ?", (talk_id,)).rowcount > 0


def shard_indexes(paths: Iterable[Path | str]) -> list[Path]:
    """The index files named, and the ``library-shard-*.db`` of the archives named, in name order."""
    found: list[Path] = []
    for path in map(Path, paths):
        shards = sorted(path.glob("library-shard-*.db")) if path.is_dir() else [path]
        if not shards:
            raise UsageError(f"{path}: no library-shard-*.db to merge", hint="run `slidegrab fetch --shard` into it")
        found += shards
    return found


def talk_folders(root: Path) -> list[Path]:
    """The archive's talk folders (those holding a talk.json), in name order."""
    return sorted(path.parent for path in Path(root).glob(f"*/{TALK_JSON}"))


def read_talk(folder: Path, base: Path) -> tuple[tuple, list[tuple]]:
    """A talks row and its entries (kind, start, end, slide, text) from a talk folder's files."""
    path = folder / TALK_JSON
    state = _read_json(path, REFETCH)
    with _unexpected(path, REFETCH):
        talk = state["talk"]
        duration = float(talk.get("duration") or state.get("stages", {}).get("audio", {}).get("duration") or 0)
        speakers = [str(name) for name in talk.get("speakers") or ()]
        title, conference = str(talk["title"]), talk.get("conference")
        mp4 = MP4 if (folder / MP4).is_file() else None
        row = (str(talk["id"]), _relative(folder, base), title, json.dumps(speakers, ensure_ascii=False), conference,
               talk.get("url"), talk.get("page_url"), duration, mp4, _updated(folder))  # fmt: skip
        heading = "\n".join(part for part in (title, ", ".join(speakers), conference) if part)
        entries = [("title", 0.0, duration, None, heading), *_slide_entries(state, duration)]
    return row, entries + _speech_entries(folder / TRANSCRIPT)


def _slide_entries(state: dict[str, Any], duration: float) -> list[tuple]:
    table = state.get("slides") or _slide_table(state["talk"].get("slides") or [], duration)
    texts = state.get("stages", {}).get("ocr", {}).get("texts") or []
    texts = [text if isinstance(text, str) else "" for text in texts] + [""] * (len(table) - len(texts))
    return [
        ("slide", float(s["start"]), float(s["end"]), int(s["index"]), text.strip())
        for s, text in zip(table, texts, strict=False)
    ]


def _slide_table(slides: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
    """Slide intervals when talk.json has no slide table yet: each ends where the next begins."""
    if not slides:
        return []
    starts = [float(s["start"]) for s in slides]
    ends = starts[1:] + [max(duration, starts[-1])]
    return [{"index": s["index"], "start": a, "end": b} for s, a, b in zip(slides, starts, ends, strict=True)]


def _speech_entries(path: Path) -> list[tuple]:
    if not path.is_file():
        return []
    transcript = _read_json(path, RETRANSCRIBE)
    with _unexpected(path, RETRANSCRIBE):
        segments = [
            (float(s["start"]), float(s["end"]), s.get("slide"), str(s["text"])) for s in transcript["segments"]
        ]
    return [
        ("speech", start, end, slide, " ".join(text.split())) for start, end, slide, text in segments if text.strip()
    ]


def _read_json(path: Path, hint: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SlidegrabError(f"{path}: unreadable ({error})", hint=hint) from None


@contextmanager
def _unexpected(path: Path, hint: str) -> Iterator[None]:
    """A file that is JSON but not what slidegrab writes: one line naming it and what was wrong."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise SlidegrabError(f"{path}: unexpected content ({type(error).__name__}: {error})", hint=hint) from None


def _relative(folder: Path, base: Path) -> str:
    folder = folder.absolute()
    return folder.relative_to(base).as_posix() if folder.is_relative_to(base) else str(folder)


def _updated(folder: Path) -> str:
    """When the talk's indexed files last changed (ISO, UTC)."""
    times = [p.stat().st_mtime for p in (folder / TALK_JSON, folder / TRANSCRIPT) if p.exists()]
    return datetime.fromtimestamp(max(times), timezone.utc).isoformat(timespec="seconds")
