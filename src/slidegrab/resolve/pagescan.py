"""One pass over an HTML page: its <meta> values and the player token attribute."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class PageScan:
    metas: dict[str, list[str]] = field(default_factory=dict)  # name or property (lower-cased) → contents
    player_token: str | None = None  # the first data-player-token attribute

    def meta(self, *names: str) -> str | None:
        """The first non-empty content among ``names``, in the order given."""
        for name in names:
            for value in self.metas.get(name, ()):
                if value.strip():
                    return value.strip()
        return None


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = PageScan()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        if tag == "meta" and "content" in values:
            key = values.get("name") or values.get("property") or values.get("itemprop")
            if key:
                self.result.metas.setdefault(key.lower(), []).append(values["content"])
        if self.result.player_token is None and values.get("data-player-token"):
            self.result.player_token = values["data-player-token"].strip()


def scan_page(html: str) -> PageScan:
    """Metas and the token of a page, in time linear in its size, whatever a stranger wrote.

    Only ``feed`` runs: it stops at the first construct left open and waits for more. ``close`` would then
    re-scan the rest from every ``<`` (minutes for a hostile 100 KB page on Python 3.11), and what it could
    still find is text, never a whole tag. Some malformed declarations make the parser itself raise
    AssertionError (``<![`` without a name); what was seen before them is kept.
    """
    scanner = _Scanner()
    with contextlib.suppress(AssertionError):
        scanner.feed(html)
    return scanner.result
