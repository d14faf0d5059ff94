"""URL forms, talk identity, URL lists and folder-safe slugs.

Accepted talk URLs (slideslive-protocol.md §2), http or https:

    slideslive.com/{id}[/{slug}]             slideslive.com/embed/{id}
    slideslive.com/embed/presentation/{id}   player.videoken.com/embed/slideslive-{id}
    slideslive.de/{id}[/{slug}]              (myslideslive accepts it; it names the same talk)

An id is a whole number from 1 with at most 12 digits (they have 8 today): ``/0``, ``/-5`` or a 40-digit
"id" is refused as a usage error before any request.

``www.slideslive.com`` is not accepted, as in yt-dlp: SlidesLive serves from the bare host only, and a
page that merely redirects there is still resolved, as an embedding page whose final URL is a talk.
The query parameters ``embed_parent_url`` and ``embed_container_origin``/``embed_origin`` name the page
that embeds the talk; when one is given several times, the last value wins.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from slidegrab.errors import UsageError

SLIDESLIVE_HOSTS = frozenset({"slideslive.com", "slideslive.de"})
VIDEOKEN_HOST = "player.videoken.com"
_TALK_PATH = re.compile(r"/(?:embed/(?:presentation/)?)?(\d+)(?:/[^?#]*)?")
_VIDEOKEN_PATH = re.compile(r"/embed/slideslive-(\d+)/?")
_ID_LIKE = re.compile(r"/(?:embed/(?:presentation/)?|embed/slideslive-)?([+-]?\d+)(?:/[^?#]*)?")
_HOST_FIRST = re.compile(r"[\w-]+(\.[\w-]+)+(:\d+)?/")
MAX_ID_DIGITS = 12  # ids are 8 digits today; anything far longer is a typo or an attack, not a talk
MAX_URL = 4096  # characters; browsers and servers give up around 8 KB
MAX_LIST_BYTES = 64 * 1024 * 1024  # a million URLs; a bigger "list" is some other file
_ORIGIN_KEYS = ("embed_container_origin", "embed_origin")
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")
_TRANSLIT = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
    }
)
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


@dataclass(frozen=True)
class TalkURL:
    id: str
    parent: str | None = None  # the page that embeds the talk (embed_parent_url)
    origin: str | None = None  # scheme://host of that page (embed_container_origin / embed_origin)

    @property
    def canonical(self) -> str:
        return canonical_url(self.id)


def parse_talk_url(url: str) -> TalkURL | None:
    """The talk a SlidesLive (or VideoKen-wrapped) URL names, or None for any other URL."""
    url = url.strip()
    if not url or _BAD_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    if host == VIDEOKEN_HOST and (m := _VIDEOKEN_PATH.fullmatch(parts.path)):
        return TalkURL(m.group(1), parent=url.split("#")[0], origin=f"https://{VIDEOKEN_HOST}")
    if host not in SLIDESLIVE_HOSTS or not (m := _TALK_PATH.fullmatch(parts.path)):
        return None
    parent = origin = None
    for key, value in parse_qsl(parts.query):
        if key == "embed_parent_url" and _is_web_url(value):
            parent = value
        elif key in _ORIGIN_KEYS and _is_web_url(value):
            origin = value
    return TalkURL(m.group(1), parent=parent, origin=origin)


def canonical_url(talk_id: str) -> str:
    return f"https://slideslive.com/{talk_id}"


def embed_url(talk_id: str, parent: str | None = None, origin: str | None = None) -> str:
    """The embed page URL, carrying the parent page and its origin as SlidesLive's own embed code does."""
    query = {k: v for k, v in (("embed_parent_url", parent), ("embed_container_origin", origin)) if v}
    base = f"https://slideslive.com/embed/presentation/{talk_id}"
    return f"{base}?{urlencode(query)}" if query else base


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def slugify(title: str, max_len: int = 80) -> str:
    """Lower-case ASCII letters and digits joined by '-', at most ``max_len`` long, never empty.

    The result can only contain ``[a-z0-9-]``, so no title can make a path leave its folder.
    """
    text = unicodedata.normalize("NFKD", title.translate(_TRANSLIT))
    slug = "-".join(re.findall(r"[a-z0-9]+", text.encode("ascii", "ignore").decode().lower()))
    if len(slug) > max_len:
        head = slug[: max_len + 1]
        slug = head.rsplit("-", 1)[0] if "-" in head else slug[:max_len]
    slug = slug.strip("-")
    if not slug:
        return "talk"
    return f"{slug}-talk" if slug in _RESERVED else slug


def read_url_list(lines: Iterable[str]) -> list[str]:
    """URLs from a list file: stripped, blank lines and '#' comments skipped, each talk once, in order.

    The same talk under different URL forms counts once; the first position is kept, and a later form
    that names the embedding page replaces one that does not (it is the one that can unlock the talk).
    """
    kept: dict[str, str] = {}
    for line in lines:
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        talk = parse_talk_url(url)
        key = f"talk:{talk.id}" if talk else url
        if key not in kept or talk and talk.parent and not parse_talk_url(kept[key]).parent:
            kept[key] = url
    return list(kept.values())


def validate_url(url: str) -> str:
    """The URL, stripped, if it is an http(s) URL with a host; else a UsageError in one line."""
    text = url.strip()
    if not text:
        raise UsageError("empty URL", hint="give a SlidesLive or conference page URL")
    if len(text) > MAX_URL:
        raise UsageError(f"{_shown(text)!r} is not a URL: {len(text)} characters long (at most {MAX_URL})")
    if _BAD_CHARS.search(text):
        raise UsageError(f"{_shown(text)!r} is not a URL: it contains spaces or control characters")
    try:
        parts = urlsplit(text)
        host, _ = parts.hostname, parts.port
    except ValueError as e:
        raise UsageError(f"{_shown(text)!r} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https"):
        hint = (
            f"write it as https://{_shown(text)}" if not parts.scheme or "." in parts.scheme else "use an http(s) URL"
        )
        what = f"'{_shown(parts.scheme, 20)}:' URLs" if parts.scheme else "URLs without a scheme"
        raise UsageError(f"{what} are not supported", url=_shown(text), hint=hint)
    if not host or not re.fullmatch(r"[\w.-]*\w[\w.-]*|[0-9a-f:.]+", host):
        raise UsageError("the URL has no valid host", url=_shown(text))
    _check_talk_id(host.lower(), parts.path, text)
    return text


def _check_talk_id(host: str, path: str, url: str) -> None:
    """A SlidesLive URL whose id cannot be one (0, negative, dozens of digits) is refused before any request."""
    if host not in SLIDESLIVE_HOSTS | {VIDEOKEN_HOST} or not (m := _ID_LIKE.fullmatch(path)):
        return
    digits = m.group(1)
    if digits.isdigit() and int(digits) > 0 and len(digits) <= MAX_ID_DIGITS:
        return
    raise UsageError(
        f"{_shown(digits, 20)} is not a SlidesLive talk id",
        url=_shown(url),
        hint=f"ids are whole numbers from 1 with at most {MAX_ID_DIGITS} digits, e.g. https://slideslive.com/38990101",
    )


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def gather_urls(args: Iterable[str], stdin: Iterable[str] = ()) -> list[str]:
    """The talks named on the command line: URLs, URL list files, and '-' for standard input.

    Every line is checked before any work starts, so a bad list stops with one line naming the file and
    line, and nothing is fetched.
    """
    lines: list[str] = []
    for arg in args:
        if arg == "-":
            lines += _checked("<stdin>", _stdin_lines(stdin))
        elif _is_web_url(arg) or "://" in arg or arg.lower().startswith(("javascript:", "data:")):
            validate_url(arg)
            lines.append(arg)
        elif os.path.isfile(arg):
            lines += _checked(arg, _read_text(arg).splitlines())
        else:
            if _HOST_FIRST.match(arg):  # slideslive.com/38990101: a URL without its scheme, says how to write it
                validate_url(arg)
            raise UsageError(f"{_shown(arg)!r} is neither a URL nor a file of URLs")
    urls = read_url_list(lines)
    if not urls:
        raise UsageError("no URLs given", hint="give talk URLs, or a file with one URL per line")
    return urls


def _stdin_lines(stdin: Iterable[str]) -> list[str]:
    """Standard input's lines, its bytes checked as a list file's are (sys.stdin would raise on bad UTF-8)."""
    binary = getattr(stdin, "buffer", None)
    if binary is None:
        return list(stdin)
    return _decoded("<stdin>", binary.read(MAX_LIST_BYTES + 1)).splitlines()


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_LIST_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read the URL list {path}: {e.strerror}") from None
    return _decoded(path, data)


def _decoded(name: str, data: bytes) -> str:
    """The text of a URL list; one line naming the file when it is too big, binary, UTF-16 or not UTF-8."""
    if len(data) > MAX_LIST_BYTES:
        raise UsageError(f"{name} is over {MAX_LIST_BYTES // 2**20} MiB, too big for a list of URLs")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{name} is UTF-16 text", hint="save it as UTF-8")
    if b"\x00" in data:
        raise UsageError(f"{name} is a binary file, not a list of URLs (one URL per line)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{name} is not UTF-8 text (byte {e.start})", hint="save it as UTF-8") from None


def _shown(text: str, limit: int = 100) -> str:
    """``text`` cut short for an error line: a 100 KB URL must not become a 100 KB message."""
    return text if len(text) <= limit else f"{text[:limit]}…"


def _checked(name: str, lines: list[str]) -> list[str]:
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if len(text) > MAX_URL:
            raise UsageError(f"{name} line {number}: a line of {len(text)} characters is not a URL")
        try:
            validate_url(text)
        except UsageError as e:
            raise UsageError(f"{name} line {number}: {e}") from None
    return lines
