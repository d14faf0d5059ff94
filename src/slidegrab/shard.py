"""Splitting one batch across machines: ``slidegrab fetch --shard K/N``.

Shard K of N (0 <= K < N) takes the talks whose SlidesLive id hashes to K, whichever form of URL names the
talk; a conference page URL by the id of the talk it embeds, which every shard learns by reading the page
(identity.py), so a talk listed both ways lands in one shard; a page whose talk cannot be learned so, by
the URL itself. The hash is SHA-1, so a talk lands in the same shard on every run and machine, and shards
never overlap. Each shard has its own lock and its own index (``library-shard-K-of-N.db``) in the shared
archive; shards run side by side, but never beside a plain fetch of the same archive (lock.py).
``slidegrab index --merge`` folds the shard indexes into ``library.db``.

``--shard auto`` reads K and N from the scheduler: a SLURM array job (``SLURM_ARRAY_TASK_ID`` with
``SLURM_ARRAY_TASK_COUNT``, or ``SLURM_ARRAY_TASK_MIN``/``_MAX``), or a Kubernetes Indexed Job
(``JOB_COMPLETION_INDEX``, with N from ``--shard-count`` or ``SLIDEGRAB_SHARD_COUNT``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slidegrab.errors import UsageError
from slidegrab.urls import parse_talk_url

COUNT_ENV = "SLIDEGRAB_SHARD_COUNT"
_SPEC = re.compile(r"(\d+)/(\d+)")
_HINT = "give --shard K/N with 0 <= K < N (e.g. 0/4), or --shard auto inside a SLURM array or Kubernetes Indexed Job"


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @property
    def name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    @property
    def lock_name(self) -> str:
        return f".slidegrab-{self.name}.lock"

    @property
    def db_name(self) -> str:
        return f"library-{self.name}.db"

    def takes(self, url: str, key: str | None = None) -> bool:
        return hash_shard(key or shard_key(url), self.count) == self.index

    def select(self, urls: Iterable[str], keys: Mapping[str, str] | None = None) -> list[str]:
        """This shard's URLs; ``keys`` (identity.talk_keys) gives the talk id of conference page URLs."""
        keys = keys or {}
        return [url for url in urls if self.takes(url, keys.get(url))]


def shard_key(url: str) -> str:
    """A talk's key from its URL alone: its SlidesLive id when the URL names it, else the URL string."""
    talk = parse_talk_url(url)
    return talk.id if talk else url.strip()


def shard_of(url: str, count: int) -> int:
    return hash_shard(shard_key(url), count)


def hash_shard(key: str, count: int) -> int:
    digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()
    return int(digest, 16) % count


def parse_shard(spec: str, count: int | None = None, environ: Mapping[str, str] | None = None) -> Shard:
    """``K/N``, or ``auto`` (from the scheduler's environment); a UsageError naming what is wrong."""
    if spec.strip().lower() == "auto":
        return from_environment(environ or {}, count)
    if not (m := _SPEC.fullmatch(spec.strip())):
        raise UsageError(f"--shard {spec!r}: expected K/N or auto", hint=_HINT)
    return _checked(int(m.group(1)), int(m.group(2)), f"--shard {spec}")


def from_environment(environ: Mapping[str, str], count: int | None = None) -> Shard:
    """K and N from a SLURM array job or a Kubernetes Indexed Job."""
    if "SLURM_ARRAY_TASK_ID" in environ:
        task, low = _int(environ, "SLURM_ARRAY_TASK_ID"), _int(environ, "SLURM_ARRAY_TASK_MIN", 0)
        if count is None and "SLURM_ARRAY_TASK_COUNT" in environ:
            count = _int(environ, "SLURM_ARRAY_TASK_COUNT")
        elif count is None and "SLURM_ARRAY_TASK_MAX" in environ:
            count = _int(environ, "SLURM_ARRAY_TASK_MAX") - low + 1
        return _checked(task - low, count, "SLURM array task")
    if "JOB_COMPLETION_INDEX" in environ:
        if count is None and COUNT_ENV in environ:
            count = _int(environ, COUNT_ENV)
        return _checked(_int(environ, "JOB_COMPLETION_INDEX"), count, "Kubernetes job index")
    raise UsageError("--shard auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment", hint=_HINT)


def _int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    value = environ.get(name)
    if value is None and default is not None:
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise UsageError(f"--shard auto: {name}={value!r} is not a whole number", hint=_HINT) from None


def _checked(index: int, count: int | None, source: str) -> Shard:
    if count is None:
        raise UsageError(
            f"{source} {index}: the number of shards is unknown",
            hint=f"give --shard-count N or set {COUNT_ENV} (the Job's completions)",
        )
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"{source}: shard {index} of {count} does not exist", hint=_HINT)
    return Shard(index, count)
