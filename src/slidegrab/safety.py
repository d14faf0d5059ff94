"""What slidegrab refuses from the sites it reads, in one place: URLs that lead off the public web, redirects
into the local network, bodies past their size, text that would drive a terminal.

Player responses, slide lists and conference pages are written by strangers. Every URL they give that slidegrab
will fetch (or hand to yt-dlp) goes through ``checked_url`` first; every redirect goes through
``refuse_unsafe_redirect`` (a session hook, so it also sees redirects nobody follows); every body is read with
``read_body`` under a cap for its kind. Only literal hosts are judged: names are resolved by the proxy, or by the
system, never here, so a public name that resolves to a private address is not caught.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from slidegrab.errors import NetworkError, UnsafeContentError

MiB = 1024 * 1024
PAGE_BYTES = 8 * MiB  # an HTML page: the embed page, a conference page, the Vimeo player page (~0.5 MB real)
DATA_BYTES = 8 * MiB  # the player response, slides.json, the XML, service data, HLS/DASH manifests (~0.2 MB)
IMAGE_BYTES = 64 * MiB  # one slide image (a 33 MP 8K PNG is ~40 MB)
SUBTITLE_BYTES = 8 * MiB  # one WebVTT file (three hours of captions is ~0.3 MB)
DOCUMENT_BYTES = max(PAGE_BYTES, DATA_BYTES)  # the cap when the caller does not say what kind it reads
MEDIA_BYTES = 16 * 1024 * MiB  # one audio or video download (yt-dlp's max_filesize)
BODY_SECONDS = 300.0  # a body still arriving after this long is dripping, not downloading
TEXT_CHARS = 1000  # a title, a speaker or a conference name from site data
CHUNK = 64 * 1024
HINT = "the site's data points somewhere slidegrab does not go; please report the talk"
_SCHEMES = ("http", "https")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
THIS_MACHINE = "a URL to this machine"
LINK_LOCAL = "a URL to a link-local address"
PRIVATE = "a URL to a private address"
LOCAL = (THIS_MACHINE, LINK_LOCAL, PRIVATE)
_URL_JUNK = re.compile(r"[\s\\\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")  # C0, C1, bidi overrides


def checked_url(url: object, what: str) -> str:
    """``url`` if it is an http(s) URL to a public host; else UnsafeContentError naming ``what`` (the talk and
    the field, e.g. "talk 38990101: #EXT-SL-VOD-SLIDES-JSON-URL")."""
    problem = url_problem(url) if isinstance(url, str) else "not a URL"
    if problem:
        raise UnsafeContentError(f"{what} is {problem} ({shown(url)}); refused", hint=HINT)
    return url  # type: ignore[return-value]


def url_problem(url: str) -> str | None:
    """Why a URL from site data may not be fetched (None when it may)."""
    if _URL_JUNK.search(url):
        return "a URL with spaces, backslashes or control characters"
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in _SCHEMES:
        return f"a '{parts.scheme}:' URL, not http(s)" if parts.scheme else "not an absolute http(s) URL"
    return host_problem(host or "")


def host_problem(host: str) -> str | None:
    """Why a literal host is off the public web: empty, a local name, a non-public IP address."""
    host = host.lower().rstrip(".")
    if not host:
        return "a URL without a host"
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return THIS_MACHINE
    address = ip_literal(host)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return THIS_MACHINE
    if address.is_link_local:
        return LINK_LOCAL
    return None if address.is_global else PRIVATE


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as a number stands for, in every form the C library accepts
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``[::1]``); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fx.]+", host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refuse_unsafe_redirect(response: requests.Response, *args: object, **kwargs: object) -> requests.Response:
    """A session hook: a redirect to a non-http(s) URL, or from the public web into the local network, is
    refused before anyone follows it. (A local page may redirect within the local network: the user chose it.)"""
    if not response.is_redirect:
        return response
    location = response.headers["Location"].encode("latin1").decode("utf-8", "replace")
    target = urljoin(response.url, location)
    problem = url_problem(target)
    if problem and not (problem in LOCAL and url_problem(response.url) in LOCAL):
        response.close()
        raise UnsafeContentError(f"a redirect from {shown(response.url)} is {problem} ({shown(target)}); refused")
    return response


def read_body(response: requests.Response, limit: int, *, seconds: float = BODY_SECONDS) -> bytes:
    """Read a streamed response's body, at most ``limit`` bytes and ``seconds`` long, and keep it as the
    response's ``content``. Past either the response is closed and refused; transfer failures are raised as
    requests raises them, so callers retry them as before."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(response, limit)
    chunks, size, deadline = [], 0, time.monotonic() + seconds
    for chunk in _chunks(response):
        size += len(chunk)
        if size > limit:
            raise _too_large(response, limit)
        if time.monotonic() > deadline:
            response.close()
            raise NetworkError(f"the response did not arrive within {seconds:g} s", url=shown(response.url))
        chunks.append(chunk)
    response._content = b"".join(chunks)  # what requests itself keeps once it has read a body
    response._content_consumed = True
    return response._content


def _chunks(response: requests.Response):
    """The body as it arrives (``read1`` returns what is there: a slow drip still meets the deadline)."""
    if response._content_consumed:  # already read (not streamed): nothing more arrives
        yield response.content
        return
    try:
        while chunk := response.raw.read1(CHUNK, decode_content=True):
            yield chunk
    except ProtocolError as e:  # the same mapping as requests' own iter_content
        raise requests.exceptions.ChunkedEncodingError(e) from e
    except DecodeError as e:
        raise requests.exceptions.ContentDecodingError(e) from e
    except ReadTimeoutError as e:
        raise requests.exceptions.ConnectionError(e) from e
    except SSLError as e:
        raise requests.exceptions.SSLError(e) from e


def _too_large(response: requests.Response, limit: int) -> UnsafeContentError:
    response.close()
    return UnsafeContentError(
        f"the response is larger than {limit // MiB} MiB, more than any such file should be; refused",
        url=shown(response.url),
    )


def clean_text(value: str | None, limit: int = TEXT_CHARS) -> str | None:
    """Site text made safe to print and store: control characters (terminal escapes, NUL, bidi overrides)
    become spaces, and it is cut to ``limit`` characters."""
    if value is None:
        return None
    text = _CONTROL.sub(" ", value).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def shown(value: object, limit: int = 200) -> str:
    """A value quoted for an error line: control characters escaped, long ones cut."""
    text = ascii(value)[1:-1] if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
