"""Fault injection and the request log of the replica's proxy.

A ``FaultRule`` names the requests it applies to (fnmatch globs on host and on path without its query) and
what goes wrong with them:

- ``status``   answer ``status`` with a short body, or with ``body`` when given (a response the site
               never sends: a player response missing tags, a malformed slides.json), and ``Retry-After``
               when ``retry_after`` is given;
- ``reset``    close the TCP connection abruptly (RST, no response);
- ``stall``    wait ``seconds`` before answering normally (cut short when the replica stops);
- ``truncate`` send the headers with the full Content-Length but only half the body, then close;
- ``redirect`` answer ``status`` (302 unless a 3xx is given) with ``Location: location``;
- ``endless``  answer ``status`` (200 when it is left at its default) with no Content-Length and a body
               that never ends: ``body`` (or 64 KiB of filler) again and again, ``pause`` seconds apart,
               until the client hangs up or the replica stops.

``times=N`` makes a rule fire on the next N matching requests and then go inert; ``rate=p`` makes it fire
with probability p, drawn from the rule's own ``random.Random(seed)``, so a run is reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

KINDS = ("status", "reset", "stall", "truncate", "redirect", "endless")
MAX_STALL = 600.0


@dataclass(eq=False)
class FaultRule:
    host: str = "*"
    path: str = "*"
    kind: str = "status"
    status: int = 503
    times: int | None = None
    rate: float | None = None
    seconds: float = 30.0
    retry_after: int | None = None
    seed: int = 0
    body: bytes | None = None  # for "status" and "endless": the body to send instead of the fault's own
    location: str | None = None  # for "redirect": where to
    pause: float = 0.0  # for "endless": seconds between repeats of the body
    fired: int = 0  # how many requests this rule has spoiled so far
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate {self.rate} is not a probability")
        if not 0.0 <= self.seconds <= MAX_STALL:
            raise ValueError(f"stall of {self.seconds} s is outside 0…{MAX_STALL:g} s")
        if self.kind == "redirect" and not self.location:
            raise ValueError("a redirect fault needs a location")
        if not 0.0 <= self.pause <= MAX_STALL:
            raise ValueError(f"pause of {self.pause} s is outside 0…{MAX_STALL:g} s")
        self._random = random.Random(self.seed)

    @property
    def inert(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, host: str, path: str) -> bool:
        return fnmatchcase(host.lower(), self.host.lower()) and fnmatchcase(path, self.path)

    def fire(self) -> bool:
        """Decide whether this matching request is spoiled (callers hold the plan's lock)."""
        if self.inert:
            return False
        if self.rate is not None and self._random.random() >= self.rate:
            return False
        self.fired += 1
        return True


class FaultPlan:
    """The rules in force; the first matching rule that fires decides a request's fault."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        host: str = "*",
        path: str = "*",
        kind: str = "status",
        *,
        status: int = 503,
        times: int | None = None,
        rate: float | None = None,
        seconds: float = 30.0,
        retry_after: int | None = None,
        seed: int = 0,
        body: bytes | None = None,
        location: str | None = None,
        pause: float = 0.0,
    ) -> FaultRule:
        rule = FaultRule(host, path, kind, status, times, rate, seconds, retry_after, seed, body, location, pause)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        with self._lock:
            return tuple(self._rules)

    def pick(self, host: str, path: str) -> FaultRule | None:
        with self._lock:
            return next((r for r in self._rules if r.matches(host, path) and r.fire()), None)


@dataclass(frozen=True)
class LogEntry:
    method: str
    url: str
    status: int  # 0 when no response was sent (reset, stall cut short)
    nbytes: int  # body bytes sent (recorded as the body starts; fewer if the client hung up)
    fault: str | None = None  # the fault kind applied, if any

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


class RequestLog:
    """Every request the proxy answered (or refused, or spoiled), in order; safe across threads.

    Refused CONNECTs appear too, with method "CONNECT" and the URL ``https://host:port/``.
    """

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def count(self, host: str | None = None, path: str | None = None, method: str | None = None) -> int:
        return sum(1 for e in self.entries if _matches(e, host, path, method))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _matches(entry: LogEntry, host: str | None, path: str | None, method: str | None) -> bool:
    return (
        (host is None or fnmatchcase(entry.host, host.lower()))
        and (path is None or fnmatchcase(entry.path, path))
        and (method is None or fnmatchcase(entry.method, method.upper()))
    )
