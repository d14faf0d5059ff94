"""Who may fetch into an archive at once: one plain fetch, or any number of shards, each shard once.

A plain ``fetch`` holds the archive lock (``.slidegrab.lock``) exclusively. A sharded fetch holds the
archive lock shared and its own shard lock (``.slidegrab-shard-K-of-N.lock``) exclusively. So shards run
side by side over one archive, the same shard never twice, and a plain fetch and any shard keep each other
out (both would work on the same talk folders). The locks are flock(2) locks: they die with the process,
so a killed fetch never leaves a stale lock behind. Whoever holds a lock exclusively writes its pid into
the lock file, so the one refused can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

from slidegrab.errors import UsageError

if TYPE_CHECKING:
    from slidegrab.shard import Shard

ARCHIVE_LOCK = ".slidegrab.lock"
_HINT = "wait for it to finish, or use another --output"


class ArchiveLock:
    """Held for the whole of a fetch; a fetch that may not run now is refused in one line."""

    def __init__(self, root: Path, shard: Shard | None = None):
        self.root, self.shard = Path(root), shard
        self._fds: list[int] = []

    def __enter__(self) -> ArchiveLock:
        try:
            self._take(ARCHIVE_LOCK, shared=self.shard is not None)
            if self.shard is not None:
                self._take(self.shard.lock_name, shared=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        while self._fds:
            os.close(self._fds.pop())  # closing the last descriptor releases the flock

    def _take(self, name: str, *, shared: bool) -> None:
        fd = _open(self.root, name)
        self._fds.append(fd)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise self._refusal(fd, name) from None
        if not shared:
            _write_pid(fd)

    def _refusal(self, fd: int, name: str) -> UsageError:
        """Who holds the lock: a plain fetch (pid), shards (shared holders) or this same shard."""
        where = self.root
        if name != ARCHIVE_LOCK:
            return UsageError(f"shard {self.shard.name} is already being fetched (pid {_owner(fd)}) into {where}")
        if self.shard is not None:
            return UsageError(f"an unsharded slidegrab fetch (pid {_owner(fd)}) is working on {where}", hint=_HINT)
        if _shared_holders(fd):
            return UsageError(
                f"sharded slidegrab fetches are working on {where}",
                hint="wait for them to finish, give this fetch a --shard too, or use another --output",
            )
        return UsageError(f"another slidegrab fetch (pid {_owner(fd)}) is working on {where}", hint=_HINT)


def _open(root: Path, name: str) -> int:
    try:
        root.mkdir(parents=True, exist_ok=True)
        return os.open(root / name, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UsageError(f"cannot write to the archive {root}: {e.strerror}", hint="give a writable --output") from None


def _write_pid(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError:  # a full disk: the lock holds all the same, only the pid shown to others is missing
        pass


def _owner(fd: int) -> str:
    return os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"


def _shared_holders(fd: int) -> bool:
    """Whether the lock that refused an exclusive claim is held shared (by shards) rather than exclusively."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True
