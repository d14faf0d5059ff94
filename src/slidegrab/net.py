"""One place for the network: proxy, extra CA certificates, headers, timeouts and retries.

The same settings reach every client slidegrab drives: ``requests`` (``NetConfig.session``), yt-dlp
(``NetConfig.ytdlp_params``) and Chromium (``NetConfig.chromium_args``). Nothing else in the project
opens a connection on its own terms.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import certifi
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from slidegrab.errors import EXPIRED_STATUSES, NetworkError, TokenExpired, UnsafeContentError, UsageError
from slidegrab.safety import DOCUMENT_BYTES, MEDIA_BYTES, read_body, refuse_unsafe_redirect

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
RETRY_STATUSES = (429, 500, 502, 503, 504)
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


@dataclass(frozen=True)
class NetConfig:
    proxy: str | None = None  # http://host:port; None → the usual *_PROXY variables
    ca_bundle: Path | None = None  # extra CA certificates (PEM) to trust beside the public ones
    timeout: float = 20.0  # seconds to connect, and between bytes read
    retries: int = 4  # per request, with exponential back-off; Retry-After is honoured
    backoff: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise UsageError(f"--ca-bundle {self.ca_bundle}: no such file", hint="give a PEM file of CA certificates")
        if self.proxy and "://" not in self.proxy:
            raise UsageError(f"--proxy {self.proxy}: not a URL", hint="write it as http://host:port")

    @property
    def effective_proxy(self) -> str | None:
        return self.proxy or next((os.environ[v] for v in PROXY_VARIABLES if os.environ.get(v)), None)

    @cached_property
    def verify_path(self) -> str:
        """A PEM bundle with the public CAs and the extra ones (written once, beside other temp files)."""
        if self.ca_bundle is None:
            return certifi.where()
        extra = Path(self.ca_bundle).read_bytes()
        public = Path(certifi.where()).read_bytes()
        digest = hashlib.sha256(public + extra).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"slidegrab-ca-{digest}.pem"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.part")
            tmp.write_bytes(public + b"\n" + extra)
            os.replace(tmp, path)
        return str(path)

    def session(self) -> requests.Session:
        """A keep-alive session with retries, timeouts, the proxy and the CA bundle applied."""
        s = TimeoutSession(self.timeout, self.retries, self.backoff)
        retry = Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff,
            backoff_max=8,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = TrustAdapter(self.verify_path, max_retries=retry, pool_connections=8, pool_maxsize=16)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        s.headers.update({"User-Agent": USER_AGENT, **self.headers})
        s.verify = self.verify_path
        s.hooks["response"].append(refuse_unsafe_redirect)  # no redirect into the local network or off the web
        if proxy := self.effective_proxy:
            s.proxies = {"http": proxy, "https": proxy}
        return s

    def ytdlp_params(self) -> dict:
        """YoutubeDL parameters carrying the same proxy, CA bundle, timeout and retries.

        yt-dlp has no CA-bundle option: with certifi disabled it loads the default verify paths, which
        honour SSL_CERT_FILE, so the combined bundle is named there for this process.
        """
        params: dict = {
            "socket_timeout": self.timeout,
            "retries": self.retries,
            "fragment_retries": self.retries,
            "extractor_retries": self.retries,
            "max_filesize": MEDIA_BYTES,  # yt-dlp refuses a download that declares more
            "http_headers": {"User-Agent": USER_AGENT, **self.headers},
        }
        if proxy := self.effective_proxy:
            params["proxy"] = proxy
        if self.ca_bundle is not None:
            os.environ["SSL_CERT_FILE"] = self.verify_path
            params["compat_opts"] = {"no-certifi"}
        return params

    def chromium_args(self) -> list[str]:
        """Command-line switches for Chromium: the proxy, and trust in the extra CAs by SPKI pin."""
        args = []
        if proxy := self.effective_proxy:
            args.append(f"--proxy-server={proxy}")
        if self.ca_bundle is not None:
            pins = ",".join(spki_hashes(Path(self.ca_bundle)))
            args.append(f"--ignore-certificate-errors-spki-list={pins}")
        return args


class TrustAdapter(HTTPAdapter):
    """An adapter whose TLS connections share one SSLContext with the CA bundle loaded once: given a bundle
    path, urllib3 would parse the ~150 certificates again for every new connection (a tenth of a batch's CPU)."""

    def __init__(self, ca_file: str, **kw):
        self.ca_file = ca_file
        self.context = ssl.create_default_context(cafile=ca_file)
        super().__init__(**kw)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[override]
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if verify == self.ca_file and pool.pop("ca_certs", None):  # another verify= keeps requests' own way
            pool["ssl_context"] = self.context
        return host, pool

    def cert_verify(self, conn, url, verify, cert) -> None:  # type: ignore[override]
        super().cert_verify(conn, url, verify, cert)
        if verify == self.ca_file and url.lower().startswith("https"):
            conn.ca_certs = None  # the pool's context holds them; naming the file would load it per connection


class TimeoutSession(requests.Session):
    """A session whose every request has a timeout unless the caller gives one; it also carries the retry
    settings, for the body failures urllib3 does not retry (``get_whole``)."""

    def __init__(self, timeout: float, retries: int = 0, backoff: float = 0.5):
        super().__init__()
        self.default_timeout = timeout
        self.retries, self.backoff = retries, backoff

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override session.verify; --ca-bundle must win
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, **kwargs)


def spki_hashes(bundle: Path) -> list[str]:
    """Base64 SHA-256 of each certificate's SubjectPublicKeyInfo, as Chromium's SPKI list wants them."""
    certs = x509.load_pem_x509_certificates(bundle.read_bytes())
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return [base64.b64encode(hashlib.sha256(c.public_key().public_bytes(*spki)).digest()).decode() for c in certs]


def get_whole(session: requests.Session, url: str, *, limit: int = DOCUMENT_BYTES, **kw) -> requests.Response:
    """GET ``url`` and read its whole body. urllib3's retries end with the headers: a body cut short, reset
    or stalled past the timeout is fetched again here, as often and with the same back-off. A body past
    ``limit`` bytes is refused (safety.read_body), not retried."""
    retries, backoff = getattr(session, "retries", 0), getattr(session, "backoff", 0.5)
    for attempt in range(retries):
        response = session.get(url, stream=True, **kw)  # connection and status failures: urllib3 retried them
        try:
            read_body(response, limit)
            return response
        except requests.RequestException as e:
            response.close()
            logging.getLogger("slidegrab.net").info("%s: %s; fetching it again", url, reason(e))
        time.sleep(min(backoff * 2**attempt, 8))
    response = session.get(url, stream=True, **kw)  # the last try: its failure is the caller's
    try:
        read_body(response, limit)
    except requests.RequestException:
        response.close()
        raise
    return response


def fetch(session: requests.Session, url: str, *, what: str, ok: tuple[int, ...] = (200,), **kw) -> requests.Response:
    """GET ``url``; a failure after the retries becomes a NetworkError that says what was being fetched.
    ``limit=`` caps the body (default safety.DOCUMENT_BYTES)."""
    try:
        response = get_whole(session, url, **kw)
    except requests.RequestException as e:
        raise NetworkError(f"could not fetch the {what}: {reason(e)}", url=url, hint=RETRY_HINT) from e
    except (UnsafeContentError, NetworkError) as e:  # a refused redirect or body, a body past its deadline
        raise type(e)(f"the {what}: {e.message}", url=e.url, hint=e.hint) from None
    if response.status_code not in ok:  # a 403/410 may be a signed URL's expired token: the pipeline re-resolves
        error = TokenExpired if response.status_code in EXPIRED_STATUSES else NetworkError
        raise error(f"the {what} answered HTTP {response.status_code}", url=url)
    return response


RETRY_HINT = "check --proxy and the network, then run again"
_REASONS = (
    ("CERTIFICATE_VERIFY_FAILED", "its certificate is not trusted (give a TLS-inspecting proxy's CA with --ca-bundle)"),
    ("Name or service not known", "the host name does not resolve"),
    ("Temporary failure in name resolution", "the host name does not resolve"),
    ("Tunnel connection failed", "the proxy refused the connection"),
    ("Connection refused", "the connection was refused"),
    ("Connection reset", "the connection was reset"),
    ("Remote end closed connection", "the connection was closed before an answer came"),
    ("timed out", "it timed out"),
    ("IncompleteRead", "the transfer was cut short"),
)


def reason(error: BaseException) -> str:
    """A short, human reason for a failed request (urllib3 wraps the cause a few levels deep)."""
    text = str(error)
    for marker, short in _REASONS:
        if marker in text:
            return short
    inner = error.args[0] if error.args and isinstance(error.args[0], BaseException) else error
    inner = getattr(inner, "reason", inner)
    return (str(inner).rsplit(": ", 1)[-1].strip(" '\")") or type(inner).__name__)[:200]
